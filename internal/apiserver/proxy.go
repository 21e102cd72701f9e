package apiserver

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// proxyToNode forwards pods/log, exec, attach and portforward to the agent of the pod's node,
// and pods/proxy to the pod itself. Upgrades (SPDY, WebSocket) pass through.
func (s *Server) proxyToNode(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	ctx := r.Context()
	podh := s.byGR[corev1.Resource("pods")]
	if podh == nil || ri.resource != "pods" {
		writeError(w, apierrors.NewMethodNotSupported(corev1.Resource(ri.resource), ri.subresource))
		return
	}
	obj, err := podh.storage.Get(ctx, ri.namespace+"/"+ri.name)
	if err != nil {
		writeError(w, err)
		return
	}
	pod := obj.(*corev1.Pod)
	q := r.URL.Query()
	if ri.subresource == "proxy" {
		s.proxyToPod(w, r, pod, ri)
		return
	}
	if pod.Spec.NodeName == "" {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name)))
		return
	}
	var path string
	switch ri.subresource {
	case "portforward":
		path = fmt.Sprintf("/portForward/%s/%s", pod.Namespace, pod.Name)
	default:
		container, err := defaultContainer(pod, q.Get("container"))
		if err != nil {
			writeError(w, err)
			return
		}
		q.Del("container")
		verb := map[string]string{"log": "containerLogs", "exec": "exec", "attach": "attach"}[ri.subresource]
		path = fmt.Sprintf("/%s/%s/%s/%s", verb, pod.Namespace, pod.Name, container)
	}
	nodeh := s.byGR[corev1.Resource("nodes")]
	nobj, err := nodeh.storage.Get(ctx, pod.Spec.NodeName)
	if err != nil {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("node %s of pod %s: %v", pod.Spec.NodeName, pod.Name, err)))
		return
	}
	node := nobj.(*corev1.Node)
	host := nodeAddress(node)
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if host == "" || port == 0 {
		writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s has no reachable agent endpoint", node.Name)))
		return
	}
	target := &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(int(port))), Path: path, RawQuery: q.Encode()}
	s.reverseProxy(w, r, target, true)
}

func nodeAddress(node *corev1.Node) string {
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return a.Address
			}
		}
	}
	return ""
}

// proxyToPod serves pods/{name}/proxy[/path] (name may be "name:port") over HTTP to the pod IP.
func (s *Server) proxyToPod(w http.ResponseWriter, r *http.Request, pod *corev1.Pod, ri requestInfo) {
	if pod.Status.PodIP == "" {
		writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("pod %s has no IP", pod.Name)))
		return
	}
	port := "80"
	if len(pod.Spec.Containers) > 0 && len(pod.Spec.Containers[0].Ports) > 0 {
		port = strconv.Itoa(int(pod.Spec.Containers[0].Ports[0].ContainerPort))
	}
	if i := strings.LastIndexByte(r.URL.Path, ':'); i > 0 && strings.Contains(r.URL.Path[i:], "/proxy") {
		seg := r.URL.Path[i+1:]
		port = seg[:strings.IndexByte(seg, '/')]
	}
	target := &url.URL{Scheme: "http", Host: net.JoinHostPort(pod.Status.PodIP, port), Path: "/" + ri.rest, RawQuery: r.URL.RawQuery}
	s.reverseProxy(w, r, target, false)
}

func (s *Server) reverseProxy(w http.ResponseWriter, r *http.Request, target *url.URL, toAgent bool) {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = target.Host
			pr.Out.Header.Del("Authorization")
			if toAgent && s.cfg.NodeToken != "" {
				pr.Out.Header.Set("Authorization", "Bearer "+s.cfg.NodeToken)
			}
		},
		Transport:     s.cfg.NodeTransport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach %s: %v", target.Host, err)))
		},
	}
	rp.ServeHTTP(w, r)
}
