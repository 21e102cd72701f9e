package apiserver

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	ipKeyPrefix       = "/registry/ranges/serviceips/"
	nodePortKeyPrefix = "/registry/ranges/servicenodeports/"
)

// serviceAllocator hands out ClusterIPs and NodePorts. Each allocation is an etcd key written in
// the same transaction as the Service, so two Services can never get the same IP or port.
type serviceAllocator struct {
	cidr             *net.IPNet
	base             uint32
	size             uint32
	portMin, portMax int
}

func newServiceAllocator(cidr *net.IPNet, portMin, portMax int) *serviceAllocator {
	ones, bits := cidr.Mask.Size()
	return &serviceAllocator{cidr: cidr, base: binary.BigEndian.Uint32(cidr.IP.To4()), size: uint32(1) << (bits - ones),
		portMin: portMin, portMax: portMax}
}

// KubernetesServiceIP is the first address of the range, kept for the "kubernetes" Service.
func (a *serviceAllocator) KubernetesServiceIP() string { return a.ipAt(1) }

// DNSServiceIP is the tenth address of the range, where cluster DNS lives (10.43.0.10).
func (a *serviceAllocator) DNSServiceIP() string { return a.ipAt(10) }

func (a *serviceAllocator) ipAt(i uint32) string {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, a.base+i)
	return net.IP(b).String()
}

func (a *serviceAllocator) keysOf(svc *corev1.Service) []string {
	var keys []string
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		keys = append(keys, ipKeyPrefix+ip)
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			keys = append(keys, nodePortKeyPrefix+strconv.Itoa(int(p.NodePort))+"-"+string(protoOr(p.Protocol)))
		}
	}
	return keys
}

func protoOr(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func needsNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

// allocate fills in svc's ClusterIP and NodePorts (keeping those of old on update) and returns
// the keys to claim and release with the write.
func (a *serviceAllocator) allocate(ctx context.Context, s *Server, svc, old *corev1.Service, dryRun bool) (store.Reservations, error) {
	var res store.Reservations
	path := field.NewPath("spec")
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
	} else {
		if old != nil && svc.Spec.ClusterIP == "" && old.Spec.ClusterIP != "" && old.Spec.Type != corev1.ServiceTypeExternalName {
			svc.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if svc.Spec.ClusterIP == "" {
			ip, err := a.pickIP(ctx, s)
			if err != nil {
				return res, err
			}
			svc.Spec.ClusterIP = ip
		} else if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			ip := net.ParseIP(svc.Spec.ClusterIP)
			if ip == nil || !a.cidr.Contains(ip) {
				return res, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, field.ErrorList{
					field.Invalid(path.Child("clusterIPs").Index(0), svc.Spec.ClusterIP, fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", svc.Spec.ClusterIP, svc.Spec.ClusterIP, a.cidr))})
			}
		}
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		if svc.Spec.IPFamilyPolicy == nil {
			single := corev1.IPFamilyPolicySingleStack
			svc.Spec.IPFamilyPolicy = &single
		}
		if len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		}
	}
	if needsNodePorts(svc) {
		oldPorts := map[string]int32{}
		if old != nil {
			for _, p := range old.Spec.Ports {
				if p.NodePort != 0 {
					oldPorts[p.Name+"/"+string(protoOr(p.Protocol))] = p.NodePort
				}
			}
		}
		used := map[int32]bool{}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort == 0 {
				p.NodePort = oldPorts[p.Name+"/"+string(protoOr(p.Protocol))]
			}
			if p.NodePort == 0 {
				n, err := a.pickPort(ctx, s, used)
				if err != nil {
					return res, err
				}
				p.NodePort = n
			} else if int(p.NodePort) < a.portMin || int(p.NodePort) > a.portMax {
				return res, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, field.ErrorList{
					field.Invalid(path.Child("ports").Index(i).Child("nodePort"), p.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.portMin, a.portMax))})
			}
			used[p.NodePort] = true
		}
	} else {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	newKeys := a.keysOf(svc)
	var oldKeys []string
	if old != nil {
		oldKeys = a.keysOf(old)
	}
	have := map[string]bool{}
	for _, k := range oldKeys {
		have[k] = true
	}
	want := map[string]bool{}
	for _, k := range newKeys {
		want[k] = true
		if !have[k] {
			res.Claim = append(res.Claim, k)
		}
	}
	for _, k := range oldKeys {
		if !want[k] {
			res.Release = append(res.Release, k)
		}
	}
	return res, nil
}

// pickIP chooses a free address, skipping the network address and the two reserved ones.
func (a *serviceAllocator) pickIP(ctx context.Context, s *Server) (string, error) {
	if a.size < 16 {
		return "", apierrors.NewInternalError(fmt.Errorf("service CIDR %s too small", a.cidr))
	}
	for i := 0; i < 64; i++ {
		off := uint32(rand.IntN(int(a.size-16))) + 12
		ip := a.ipAt(off)
		taken, err := s.keyExists(ctx, ipKeyPrefix+ip)
		if err != nil {
			return "", err
		}
		if !taken {
			return ip, nil
		}
	}
	return "", apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: range is full"))
}

func (a *serviceAllocator) pickPort(ctx context.Context, s *Server, used map[int32]bool) (int32, error) {
	for i := 0; i < 64; i++ {
		n := int32(a.portMin + rand.IntN(a.portMax-a.portMin+1))
		if used[n] {
			continue
		}
		taken, err := s.keyExists(ctx, nodePortKeyPrefix+strconv.Itoa(int(n))+"-TCP")
		if err != nil {
			return 0, err
		}
		if !taken {
			return n, nil
		}
	}
	return 0, apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range is full"))
}

func (s *Server) keyExists(ctx context.Context, key string) (bool, error) {
	resp, err := s.cfg.Etcd.Get(ctx, key, clientv3WithCountOnly())
	if err != nil {
		return false, apierrors.NewInternalError(err)
	}
	return resp.Count > 0, nil
}

func clientv3WithCountOnly() clientv3.OpOption { return clientv3.WithCountOnly() }

func clientv3WithPrefix() clientv3.OpOption { return clientv3.WithPrefix() }
