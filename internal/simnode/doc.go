// Package simnode runs simulated nodes: Node objects that register,
// heartbeat and "run" the pods bound to them on paper, so the control plane
// (scheduler, controllers, node lifecycle) can be exercised and benchmarked
// at scale on one small machine. It plays the part KWOK plays upstream.
//
// # What a simulated node does
//
//   - Registration: Run creates Count nodes named NamePrefix+index ("sim-0",
//     "sim-1", ...) with labels kubernetes.io/hostname, kubernetes.io/os=linux,
//     kubernetes.io/arch, type=simulated plus Options.Labels; capacity and
//     allocatable cpu, memory and pods from the options (ephemeral-storage is
//     a fixed 100Gi); conditions Ready=True, MemoryPressure, DiskPressure and
//     PIDPressure=False; an InternalIP and Hostname address; nodeInfo with
//     kubeletVersion v1.37.2-skiff. A node that already exists (the process
//     restarted) is taken over: labels merged, status rewritten.
//   - Heartbeats: each node's Lease in kube-node-lease gets a fresh
//     renewTime every HeartbeatInterval. Nodes are spread evenly over the
//     interval and renewed by a small pool of workers (not a goroutine per
//     node), so one process holds thousands of nodes. The node status
//     itself is rewritten every 5 minutes, as a kubelet does, or at once
//     when someone else changed its Ready condition (the node lifecycle
//     controller marking it Unknown after a pause). Stopping the process
//     stops the heartbeats: the node lifecycle controller then sees the
//     nodes go Unknown and evicts their pods.
//   - Pods: one pod informer for the whole fleet. A pod bound to one of the
//     fleet's nodes is reported Running at once: podIP, hostIP, startTime,
//     conditions PodScheduled, PodReadyToStartContainers, Initialized,
//     ContainersReady and Ready True, each container running, started and
//     ready with restartCount 0 (init containers terminated with exit 0).
//     A pod being deleted is deleted for real with grace period 0, as a
//     kubelet does once its containers stopped.
//   - Pods that terminate: a pod owned by a Job, or with restartPolicy other
//     than Always, finishes JobPodDuration after it started: phase
//     Succeeded, containers terminated with exit code 0, reason Completed.
//     Annotations change that per pod:
//     skiff.dev/simulate-exit-code: "1" makes it fail (phase Failed,
//     exit code 1, reason Error); skiff.dev/simulate-duration: "5s"
//     overrides the duration.
//
// # Pod IPs
//
// A node whose spec.podCIDR was allocated by the server hands out IPs from
// it; otherwise pod IPs come from the fleet-wide PodIPCIDR (default
// 100.64.0.0/10, the shared address space, chosen not to collide with the
// usual service and pod ranges). Node InternalIPs are 172.16.0.0/12
// addresses derived from the name prefix and index.
//
// # Options
//
//	Count             nodes to simulate (required, > 0)
//	NamePrefix        node name prefix, default "sim-"
//	CPU, Memory, Pods capacity per node, defaults "4", "16Gi", "110"
//	Labels            extra node labels
//	HeartbeatInterval Lease renewal interval, default 10s
//	PodIPCIDR         fleet pod IP range, default "100.64.0.0/10"
//	JobPodDuration    run time of terminating pods, default 1s
//
// Run uses its own client built from the given rest.Config with client-side
// throttling disabled (QPS -1): the fleet's write rate is the point.
package simnode
