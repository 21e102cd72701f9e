package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func servicePrinter() Printer {
	spec := corev1.ServiceSpec{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Type", "string", spec["type"]),
			column("Cluster-IP", "string", spec["clusterIP"]),
			column("External-IP", "string", spec["externalIPs"]),
			column("Port(s)", "string", spec["ports"]),
			ageColumn(),
			wideColumn("Selector", "string", spec["selector"]),
		},
		Row: rowOf(func(svc *corev1.Service, now time.Time) ([]interface{}, error) {
			clusterIP := svc.Spec.ClusterIP
			if len(svc.Spec.ClusterIPs) > 0 {
				clusterIP = svc.Spec.ClusterIPs[0]
			}
			ports := servicePorts(svc.Spec.Ports)
			return []interface{}{
				svc.Name, string(svc.Spec.Type), orNone(clusterIP), serviceExternalIP(svc), orNone(ports),
				AgeSince(svc.CreationTimestamp.Time, now), labels.FormatLabels(svc.Spec.Selector),
			}, nil
		}),
	}
}

// serviceExternalIP is the EXTERNAL-IP cell: the spec's external IPs, plus for
// a LoadBalancer the addresses its load balancer reported, "<pending>" until it
// has any.
func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, "":
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return none
	case corev1.ServiceTypeLoadBalancer:
		addrs := loadBalancerAddresses(svc.Status.LoadBalancer.Ingress)
		addrs = append(addrs, svc.Spec.ExternalIPs...)
		if len(addrs) == 0 {
			return "<pending>"
		}
		return strings.Join(addrs, ",")
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return unknown
}

// loadBalancerAddresses lists the distinct IPs (or hostnames, for ingress points
// without an IP) of a load balancer, sorted. The server prints them in full, as
// upstream's wide output does; kubectl does not clip them.
func loadBalancerAddresses(ingress []corev1.LoadBalancerIngress) []string {
	addrs := make([]string, 0, len(ingress))
	for _, in := range ingress {
		if in.IP != "" {
			addrs = append(addrs, in.IP)
		} else {
			addrs = append(addrs, in.Hostname)
		}
	}
	return sortedUnique(addrs)
}

// servicePorts formats ports as "port/proto" or "port:nodePort/proto".
func servicePorts(ports []corev1.ServicePort) string {
	out := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			out[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			out[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(out, ",")
}

func endpointsPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
			ageColumn(),
		},
		Row: rowOf(func(ep *corev1.Endpoints, now time.Time) ([]interface{}, error) {
			return []interface{}{ep.Name, formatEndpoints(ep), AgeSince(ep.CreationTimestamp.Time, now)}, nil
		}),
	}
}

// formatEndpoints lists up to three "ip:port" pairs (bare IPs for subsets
// without ports, as headless services have), "<none>" without subsets.
func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return none
	}
	var list []string
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				list = append(list, a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	return listWithMore(list, 3)
}

// Node role labels: node-role.kubernetes.io/<role>="" or kubernetes.io/role=<role>.
const (
	nodeRoleLabelPrefix = "node-role.kubernetes.io/"
	nodeRoleLabel       = "kubernetes.io/role"
)

func nodePrinter() Printer {
	info := corev1.NodeSystemInfo{}.SwaggerDoc()
	addresses := corev1.NodeStatus{}.SwaggerDoc()["addresses"]
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Status", "string", "The status of the node"),
			column("Roles", "string", "The roles of the node"),
			ageColumn(),
			column("Version", "string", info["kubeletVersion"]),
			wideColumn("Internal-IP", "string", addresses),
			wideColumn("External-IP", "string", addresses),
			wideColumn("OS-Image", "string", info["osImage"]),
			wideColumn("Kernel-Version", "string", info["kernelVersion"]),
			wideColumn("Container-Runtime", "string", info["containerRuntimeVersion"]),
		},
		Row: rowOf(func(node *corev1.Node, now time.Time) ([]interface{}, error) {
			ni := node.Status.NodeInfo
			return []interface{}{
				node.Name, nodeStatus(node), orNone(strings.Join(nodeRoles(node), ",")),
				AgeSince(node.CreationTimestamp.Time, now), ni.KubeletVersion,
				nodeAddress(node, corev1.NodeInternalIP), nodeAddress(node, corev1.NodeExternalIP),
				orUnknown(ni.OSImage), orUnknown(ni.KernelVersion), orUnknown(ni.ContainerRuntimeVersion),
			}, nil
		}),
	}
}

// nodeStatus reads "Ready", "NotReady" or "Unknown" from the Ready condition,
// with ",SchedulingDisabled" for cordoned nodes.
func nodeStatus(node *corev1.Node) string {
	status := "Unknown"
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				status = string(corev1.NodeReady)
			} else {
				status = "Not" + string(corev1.NodeReady)
			}
		}
	}
	if node.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

func nodeRoles(node *corev1.Node) []string {
	var roles []string
	for k, v := range node.Labels {
		switch {
		case strings.HasPrefix(k, nodeRoleLabelPrefix):
			if role := strings.TrimPrefix(k, nodeRoleLabelPrefix); role != "" {
				roles = append(roles, role)
			}
		case k == nodeRoleLabel && v != "":
			roles = append(roles, v)
		}
	}
	return sortedUnique(roles)
}

func nodeAddress(node *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range node.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return none
}

func orUnknown(s string) string {
	if s == "" {
		return unknown
	}
	return s
}

func namespacePrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Status", "string", "The status of the namespace"),
			ageColumn(),
		},
		Row: rowOf(func(ns *corev1.Namespace, now time.Time) ([]interface{}, error) {
			return []interface{}{ns.Name, string(ns.Status.Phase), AgeSince(ns.CreationTimestamp.Time, now)}, nil
		}),
	}
}

func configMapPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"]),
			ageColumn(),
		},
		Row: rowOf(func(cm *corev1.ConfigMap, now time.Time) ([]interface{}, error) {
			return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), AgeSince(cm.CreationTimestamp.Time, now)}, nil
		}),
	}
}

func secretPrinter() Printer {
	doc := corev1.Secret{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Type", "string", doc["type"]),
			column("Data", "string", doc["data"]),
			ageColumn(),
		},
		Row: rowOf(func(s *corev1.Secret, now time.Time) ([]interface{}, error) {
			// stringData is write-only: the server folds it into data on write.
			return []interface{}{s.Name, string(s.Type), int64(len(s.Data)), AgeSince(s.CreationTimestamp.Time, now)}, nil
		}),
	}
}

// serviceAccountPrinter shows NAME and AGE: upstream dropped the SECRETS count
// (kubernetes#117160) because token secrets are no longer listed on accounts.
func serviceAccountPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{nameColumn(), ageColumn()},
		Row: rowOf(func(sa *corev1.ServiceAccount, now time.Time) ([]interface{}, error) {
			return []interface{}{sa.Name, AgeSince(sa.CreationTimestamp.Time, now)}, nil
		}),
	}
}

func persistentVolumePrinter() Printer {
	spec := corev1.PersistentVolumeSpec{}.SwaggerDoc()
	status := corev1.PersistentVolumeStatus{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Capacity", "string", spec["capacity"]),
			column("Access Modes", "string", spec["accessModes"]),
			column("Reclaim Policy", "string", spec["persistentVolumeReclaimPolicy"]),
			column("Status", "string", status["phase"]),
			column("Claim", "string", spec["claimRef"]),
			column("StorageClass", "string", "StorageClass of the pv"),
			column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
			column("Reason", "string", status["reason"]),
			ageColumn(),
			wideColumn("VolumeMode", "string", spec["volumeMode"]),
		},
		Row: rowOf(func(pv *corev1.PersistentVolume, now time.Time) ([]interface{}, error) {
			claim := ""
			if ref := pv.Spec.ClaimRef; ref != nil {
				claim = ref.Namespace + "/" + ref.Name
			}
			capacity := pv.Spec.Capacity[corev1.ResourceStorage]
			phase := string(pv.Status.Phase)
			if pv.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			class := pv.Spec.StorageClassName
			if c, ok := pv.Annotations[corev1.BetaStorageClassAnnotation]; ok {
				class = c
			}
			return []interface{}{
				pv.Name, capacity.String(), accessModesString(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
				phase, claim, class, stringPtrOr(pv.Spec.VolumeAttributesClassName, unset), pv.Status.Reason,
				AgeSince(pv.CreationTimestamp.Time, now), volumeModeString(pv.Spec.VolumeMode),
			}, nil
		}),
	}
}

func persistentVolumeClaimPrinter() Printer {
	spec := corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()
	status := corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Status", "string", status["phase"]),
			column("Volume", "string", spec["volumeName"]),
			column("Capacity", "string", status["capacity"]),
			column("Access Modes", "string", status["accessModes"]),
			column("StorageClass", "string", "StorageClass of the pvc"),
			column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
			ageColumn(),
			wideColumn("VolumeMode", "string", spec["volumeMode"]),
		},
		Row: rowOf(func(pvc *corev1.PersistentVolumeClaim, now time.Time) ([]interface{}, error) {
			phase := string(pvc.Status.Phase)
			if pvc.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			// Capacity and access modes are those of the bound volume, so
			// they stay empty until the claim is bound.
			capacity, modes := "", ""
			if pvc.Spec.VolumeName != "" {
				q := pvc.Status.Capacity[corev1.ResourceStorage]
				capacity = q.String()
				modes = accessModesString(pvc.Status.AccessModes)
			}
			class := stringPtrOr(pvc.Spec.StorageClassName, "")
			if c, ok := pvc.Annotations[corev1.BetaStorageClassAnnotation]; ok {
				class = c
			}
			return []interface{}{
				pvc.Name, phase, pvc.Spec.VolumeName, capacity, modes, class,
				stringPtrOr(pvc.Spec.VolumeAttributesClassName, unset), AgeSince(pvc.CreationTimestamp.Time, now),
				volumeModeString(pvc.Spec.VolumeMode),
			}, nil
		}),
	}
}

func stringPtrOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

func volumeModeString(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return unset
	}
	return string(*m)
}

func replicationControllerPrinter() Printer {
	return Printer{
		Columns: replicasColumns(corev1.ReplicationControllerSpec{}.SwaggerDoc(), corev1.ReplicationControllerStatus{}.SwaggerDoc()),
		Row: rowOf(func(rc *corev1.ReplicationController, now time.Time) ([]interface{}, error) {
			var containers []corev1.Container
			if rc.Spec.Template != nil {
				containers = rc.Spec.Template.Spec.Containers
			}
			names, images := containerCells(containers)
			return []interface{}{
				rc.Name, int64(derefInt32(rc.Spec.Replicas, 1)), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
				AgeSince(rc.CreationTimestamp.Time, now), names, images, labels.FormatLabels(rc.Spec.Selector),
			}, nil
		}),
	}
}

func resourceQuotaPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
			column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
			ageColumn(),
		},
		Row: rowOf(func(rq *corev1.ResourceQuota, now time.Time) ([]interface{}, error) {
			names := make([]string, 0, len(rq.Status.Hard))
			for name := range rq.Status.Hard {
				names = append(names, string(name))
			}
			sort.Strings(names)
			var requests, limits []string
			for _, name := range names {
				used := rq.Status.Used[corev1.ResourceName(name)]
				hard := rq.Status.Hard[corev1.ResourceName(name)]
				entry := fmt.Sprintf("%s: %s/%s", name, used.String(), hard.String())
				// "limits.cpu" and friends go to LIMIT, everything else to REQUEST.
				if strings.HasPrefix(name, "limits.") {
					limits = append(limits, entry)
				} else {
					requests = append(requests, entry)
				}
			}
			return []interface{}{
				rq.Name, strings.Join(requests, ", "), strings.Join(limits, ", "), AgeSince(rq.CreationTimestamp.Time, now),
			}, nil
		}),
	}
}

func componentStatusPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Status", "string", "Status of the component conditions"),
			column("Message", "string", "Message of the component conditions"),
			column("Error", "string", "Error of the component conditions"),
		},
		Row: rowOf(func(cs *corev1.ComponentStatus, now time.Time) ([]interface{}, error) {
			status, message, errText := "Unknown", "", ""
			for _, c := range cs.Conditions {
				if c.Type != corev1.ComponentHealthy {
					continue
				}
				status = "Unhealthy"
				if c.Status == corev1.ConditionTrue {
					status = "Healthy"
				}
				message, errText = c.Message, c.Error
				break
			}
			return []interface{}{cs.Name, status, message, errText}, nil
		}),
	}
}
