package simnode

import (
	"net/netip"
	"sync"
)

// ipam hands out pod IPs: from a node's spec.podCIDR when the server
// allocated one, else from the fleet-wide pool. Pods are keyed by
// namespace/name; a pod keeps its IP until released.
type ipam struct {
	mu    sync.Mutex
	fleet *ipPool
	nodes map[string]*ipPool // by podCIDR
	byKey map[string]ipLease
}

type ipLease struct {
	pool *ipPool
	addr netip.Addr
}

func newIPAM(fleet netip.Prefix) *ipam {
	return &ipam{fleet: newIPPool(fleet), nodes: make(map[string]*ipPool), byKey: make(map[string]ipLease)}
}

// allocate returns the pod's IP, assigning one if it has none yet. An
// empty result means the pool is exhausted.
func (a *ipam) allocate(key, podCIDR string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l, ok := a.byKey[key]; ok {
		return l.addr.String()
	}
	pool := a.poolLocked(podCIDR)
	addr, ok := pool.take()
	if !ok {
		return ""
	}
	a.byKey[key] = ipLease{pool: pool, addr: addr}
	return addr.String()
}

// reserve records an IP a pod already has (after a restart of the fleet),
// if it lies in the pool the pod's node uses.
func (a *ipam) reserve(key, podCIDR, ip string) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.byKey[key]; ok {
		return
	}
	pool := a.poolLocked(podCIDR)
	if pool.mark(addr) {
		a.byKey[key] = ipLease{pool: pool, addr: addr}
	}
}

func (a *ipam) release(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l, ok := a.byKey[key]; ok {
		l.pool.free(l.addr)
		delete(a.byKey, key)
	}
}

func (a *ipam) poolLocked(podCIDR string) *ipPool {
	if podCIDR == "" {
		return a.fleet
	}
	if p, ok := a.nodes[podCIDR]; ok {
		return p
	}
	prefix, err := netip.ParsePrefix(podCIDR)
	if err != nil || !prefix.Addr().Is4() {
		return a.fleet
	}
	p := newIPPool(prefix.Masked())
	// The first address is the node's bridge gateway on a real node.
	p.next = 2
	a.nodes[podCIDR] = p
	return p
}

// ipPool allocates addresses of an IPv4 prefix, skipping the network and
// broadcast addresses, reusing freed ones first.
type ipPool struct {
	base  netip.Addr
	size  uint32 // number of addresses in the prefix
	next  uint32 // next never-used offset
	freed []uint32
	used  map[uint32]bool
}

func newIPPool(p netip.Prefix) *ipPool {
	bits := 32 - p.Bits()
	size := uint32(1) << bits
	if bits >= 32 {
		size = ^uint32(0)
	}
	return &ipPool{base: p.Addr(), size: size, next: 1, used: make(map[uint32]bool)}
}

func (p *ipPool) take() (netip.Addr, bool) {
	for len(p.freed) > 0 {
		off := p.freed[len(p.freed)-1]
		p.freed = p.freed[:len(p.freed)-1]
		if !p.used[off] {
			p.used[off] = true
			return addrAdd(p.base, off), true
		}
	}
	for p.next < p.size-1 {
		off := p.next
		p.next++
		if !p.used[off] {
			p.used[off] = true
			return addrAdd(p.base, off), true
		}
	}
	return netip.Addr{}, false
}

// mark claims a specific address; false if it is outside the pool or taken.
func (p *ipPool) mark(addr netip.Addr) bool {
	off, ok := p.offset(addr)
	if !ok || p.used[off] {
		return false
	}
	p.used[off] = true
	return true
}

func (p *ipPool) free(addr netip.Addr) {
	off, ok := p.offset(addr)
	if !ok || !p.used[off] {
		return
	}
	delete(p.used, off)
	p.freed = append(p.freed, off)
}

func (p *ipPool) offset(addr netip.Addr) (uint32, bool) {
	if !addr.Is4() {
		return 0, false
	}
	off := addrToUint(addr) - addrToUint(p.base)
	if addrToUint(addr) < addrToUint(p.base) || off == 0 || off >= p.size-1 {
		return 0, false
	}
	return off, true
}

func addrToUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addrAdd(a netip.Addr, n uint32) netip.Addr {
	v := addrToUint(a) + n
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
