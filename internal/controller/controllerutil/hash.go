package controllerutil

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"strconv"

	"k8s.io/apimachinery/pkg/util/rand"
)

// HashObject returns a short, stable name-safe hash of obj's JSON form salted with collisionCount,
// rendered like upstream's pod-template-hash (FNV-32a, then rand.SafeEncodeString). A collision
// count lets the controller pick a new name when an unrelated object already uses the hash.
func HashObject(obj any, collisionCount *int32) string {
	data, err := json.Marshal(obj)
	if err != nil {
		// Values from the API always marshal; fall back to a constant-safe rendering.
		data = []byte(err.Error())
	}
	return HashBytes(data, collisionCount)
}

// HashBytes is HashObject for data already serialised.
func HashBytes(data []byte, collisionCount *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisionCount != nil {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*collisionCount))
		h.Write(b[:])
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}
