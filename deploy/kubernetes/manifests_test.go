// Package kubernetes_test checks the Kubernetes manifests of this folder without a cluster:
// every document decodes strictly into the Kubernetes API types (an unknown or misspelt
// field is an error, as the API server's strict field validation makes it), and the
// objects agree with each other and with the app's configuration keys
// (docs/configuration.md). go test runs in this directory.
package kubernetes_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	configDoc      = "../../docs/configuration.md"
	kustomization  = "kustomization.yaml"
	exampleSuffix  = ".example.yaml"
	statefulSet    = "webinaire"
	apiDeployment  = "webinaire-api"
	secretName     = "webinaire-secrets"
	configMapName  = "webinaire-config"
	containerName  = "webinaire"
	cnpgAPIVersion = "postgresql.cnpg.io/v1"
)

// kustomizationFile is the part of kustomize's Kustomization these manifests use; decoded
// strictly, so that a field kustomize would read and this test does not check is an error.
type kustomizationFile struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

// manifests is every object of the folder, by type.
type manifests struct {
	kustomization kustomizationFile
	listed        []string // files kustomization.yaml applies
	namespaces    []*corev1.Namespace
	configMaps    []*corev1.ConfigMap
	secrets       []*corev1.Secret
	services      []*corev1.Service
	statefulSets  []*appsv1.StatefulSet
	deployments   []*appsv1.Deployment
	hpas          []*autoscalingv2.HorizontalPodAutoscaler
	pdbs          []*policyv1.PodDisruptionBudget
	ingresses     []*networkingv1.Ingress
	cnpgClusters  []map[string]any
}

// newObject is the typed object for a document's apiVersion and kind.
func newObject(tm metav1.TypeMeta) (any, error) {
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Secret":
		return &corev1.Secret{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, nil
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "networking.k8s.io/v1 Ingress":
		return &networkingv1.Ingress{}, nil
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		return &kustomizationFile{}, nil
	}
	return nil, fmt.Errorf("apiVersion %q kind %q: not a type these manifests use", tm.APIVersion, tm.Kind)
}

// documents splits a YAML stream at its "---" separators, leaving out empty documents.
func documents(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if len(m) > 0 {
			docs = append(docs, doc)
		}
	}
}

// load reads every YAML file of the folder and decodes each document strictly.
func load(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifest found: %v", err)
	}
	m := &manifests{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := documents(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(docs) == 0 {
			t.Errorf("%s: no document", file)
		}
		for i, doc := range docs {
			where := fmt.Sprintf("%s, document %d", file, i+1)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if tm.APIVersion == cnpgAPIVersion && tm.Kind == "Cluster" {
				// CloudNativePG's types are not Kubernetes' own; the example is checked
				// against the Secret below, not against the operator's schema.
				var c map[string]any
				if err := yaml.UnmarshalStrict(doc, &c); err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				m.cnpgClusters = append(m.cnpgClusters, c)
				continue
			}
			obj, err := newObject(tm)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s: strict decoding: %v", where, err)
			}
			switch o := obj.(type) {
			case *kustomizationFile:
				if file != kustomization {
					t.Fatalf("%s: a Kustomization outside %s", where, kustomization)
				}
				m.kustomization = *o
			case *corev1.Namespace:
				m.namespaces = append(m.namespaces, o)
			case *corev1.ConfigMap:
				m.configMaps = append(m.configMaps, o)
			case *corev1.Secret:
				m.secrets = append(m.secrets, o)
			case *corev1.Service:
				m.services = append(m.services, o)
			case *appsv1.StatefulSet:
				m.statefulSets = append(m.statefulSets, o)
			case *appsv1.Deployment:
				m.deployments = append(m.deployments, o)
			case *autoscalingv2.HorizontalPodAutoscaler:
				m.hpas = append(m.hpas, o)
			case *policyv1.PodDisruptionBudget:
				m.pdbs = append(m.pdbs, o)
			case *networkingv1.Ingress:
				m.ingresses = append(m.ingresses, o)
			}
		}
	}
	m.listed = m.kustomization.Resources
	return m
}

func (m *manifests) statefulSet(t *testing.T) (*appsv1.StatefulSet, *corev1.Container) {
	t.Helper()
	for _, s := range m.statefulSets {
		if s.Name == statefulSet {
			for i := range s.Spec.Template.Spec.Containers {
				if c := &s.Spec.Template.Spec.Containers[i]; c.Name == containerName {
					return s, c
				}
			}
			t.Fatalf("StatefulSet %s: no container %s", statefulSet, containerName)
		}
	}
	t.Fatalf("no StatefulSet %s", statefulSet)
	return nil, nil
}

// workload is one kind of node: the media nodes' StatefulSet or the API nodes' Deployment.
type workload struct {
	kind, name string
	selector   *metav1.LabelSelector
	template   *corev1.PodTemplateSpec
	container  *corev1.Container
}

// workloads are the StatefulSet of the media nodes, then the Deployment of the API nodes.
func (m *manifests) workloads(t *testing.T) []workload {
	t.Helper()
	s, c := m.statefulSet(t)
	out := []workload{{kind: "StatefulSet", name: s.Name, selector: s.Spec.Selector, template: &s.Spec.Template, container: c}}
	d := m.apiDeployment(t)
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == containerName {
			return append(out, workload{kind: "Deployment", name: d.Name, selector: d.Spec.Selector, template: &d.Spec.Template, container: c})
		}
	}
	t.Fatalf("Deployment %s: no container %s", d.Name, containerName)
	return nil
}

// apiDeployment is the Deployment of the API nodes.
func (m *manifests) apiDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	for _, d := range m.deployments {
		if d.Name == apiDeployment {
			return d
		}
	}
	t.Fatalf("no Deployment %s", apiDeployment)
	return nil
}

func (m *manifests) config(t *testing.T) map[string]string {
	t.Helper()
	for _, c := range m.configMaps {
		if c.Name == configMapName {
			return c.Data
		}
	}
	t.Fatalf("no ConfigMap %s", configMapName)
	return nil
}

func (m *manifests) secret(t *testing.T) *corev1.Secret {
	t.Helper()
	for _, s := range m.secrets {
		if s.Name == secretName {
			return s
		}
	}
	t.Fatalf("no Secret %s", secretName)
	return nil
}

func (m *manifests) service(name string) *corev1.Service {
	for _, s := range m.services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// env is the value of a container's environment variable, and whether it is there.
func env(c *corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// setting is a WEBINAIRE_* value as the container gets it: from its env when given a plain
// value there, else from the ConfigMap.
func setting(t *testing.T, c *corev1.Container, cfg map[string]string, name string) string {
	t.Helper()
	if e, ok := env(c, name); ok {
		if e.ValueFrom != nil {
			t.Fatalf("%s comes from %v, not a value", name, e.ValueFrom)
		}
		return e.Value
	}
	v, ok := cfg[name]
	if !ok {
		t.Fatalf("%s is set neither in the container nor in ConfigMap %s", name, configMapName)
	}
	return v
}

func TestKustomizationListsTheManifests(t *testing.T) {
	m := load(t)
	if m.kustomization.Kind == "" {
		t.Fatalf("%s: missing", kustomization)
	}
	files, _ := filepath.Glob("*.yaml")
	for _, f := range files {
		listed := slices.Contains(m.listed, f)
		switch {
		case f == kustomization && listed:
			t.Errorf("%s lists itself", kustomization)
		case strings.HasSuffix(f, exampleSuffix) && listed:
			t.Errorf("%s lists %s, an example with placeholders", kustomization, f)
		case f != kustomization && !strings.HasSuffix(f, exampleSuffix) && !listed:
			t.Errorf("%s: not in %s's resources", f, kustomization)
		}
	}
	for _, r := range m.listed {
		if _, err := os.Stat(r); err != nil {
			t.Errorf("%s lists %s: %v", kustomization, r, err)
		}
	}
	if !slices.ContainsFunc(m.namespaces, func(n *corev1.Namespace) bool { return n.Name == m.kustomization.Namespace }) {
		t.Errorf("%s puts everything in namespace %q, which no manifest creates", kustomization, m.kustomization.Namespace)
	}
}

func TestNodesOnTheHostNetwork(t *testing.T) {
	m := load(t)
	s, c := m.statefulSet(t)
	cfg := m.config(t)
	pod := s.Spec.Template.Spec
	if !pod.HostNetwork {
		t.Error("hostNetwork: the media port must be the host's")
	}
	if pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("dnsPolicy %q, want %q (cluster DNS on the host's network)", pod.DNSPolicy, corev1.DNSClusterFirstWithHostNet)
	}
	// One node per host: two on one host would want the same ports.
	anti := pod.Affinity
	if anti == nil || anti.PodAntiAffinity == nil || !slices.ContainsFunc(anti.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
		func(term corev1.PodAffinityTerm) bool {
			sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
			return err == nil && term.TopologyKey == "kubernetes.io/hostname" && sel.Matches(labels.Set(s.Spec.Template.Labels))
		}) {
		t.Error("no required anti-affinity on kubernetes.io/hostname between the nodes")
	}

	udpPort, err := strconv.Atoi(cfg["WEBINAIRE_MEDIA_UDP_PORT"])
	if err != nil || udpPort <= 0 {
		t.Fatalf("WEBINAIRE_MEDIA_UDP_PORT %q: want a fixed port", cfg["WEBINAIRE_MEDIA_UDP_PORT"])
	}
	var udp []corev1.ContainerPort
	for _, p := range c.Ports {
		if p.Protocol == corev1.ProtocolUDP {
			udp = append(udp, p)
		}
	}
	if len(udp) != 1 || int(udp[0].ContainerPort) != udpPort || (udp[0].HostPort != 0 && int(udp[0].HostPort) != udpPort) {
		t.Errorf("UDP ports %+v, want one, %d (media.udp_port)", udp, udpPort)
	}

	// The node id is the pod's name.
	id, ok := env(c, "WEBINAIRE_CLUSTER_NODE_ID")
	if !ok || id.ValueFrom == nil || id.ValueFrom.FieldRef == nil || id.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("WEBINAIRE_CLUSTER_NODE_ID %+v, want the pod's name (fieldRef metadata.name)", id)
	}
	clusterURL := setting(t, c, cfg, "WEBINAIRE_CLUSTER_URL")
	u, err := url.Parse(strings.ReplaceAll(clusterURL, "$(WEBINAIRE_CLUSTER_NODE_ID)", s.Name+"-0"))
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		t.Errorf("WEBINAIRE_CLUSTER_URL %q: want https://host, one per node", clusterURL)
	}
	if !strings.Contains(clusterURL, "$(WEBINAIRE_CLUSTER_NODE_ID)") {
		t.Errorf("WEBINAIRE_CLUSTER_URL %q is the same for every node", clusterURL)
	}
	addr := setting(t, c, cfg, "WEBINAIRE_CLUSTER_MEDIA_ADDRESS")
	if _, port, err := net.SplitHostPort(addr); err != nil || port != strconv.Itoa(udpPort) {
		t.Errorf("WEBINAIRE_CLUSTER_MEDIA_ADDRESS %q: want host:%d", addr, udpPort)
	}
	if setting(t, c, cfg, "WEBINAIRE_METRICS_LISTEN") == "" {
		t.Error("WEBINAIRE_METRICS_LISTEN is empty")
	}
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// A $(VAR) in a value is expanded only when VAR is defined before it in env; otherwise the
// node would get the text as it is.
func TestEnvReferencesAreDefinedBefore(t *testing.T) {
	m := load(t)
	for _, w := range m.workloads(t) {
		defined := map[string]bool{}
		for _, e := range w.container.Env {
			for _, ref := range varRef.FindAllStringSubmatch(e.Value, -1) {
				if !defined[ref[1]] {
					t.Errorf("%s %s: %s refers to $(%s), not defined before it", w.kind, w.name, e.Name, ref[1])
				}
			}
			defined[e.Name] = true
		}
	}
}

func TestProbesAndShutdown(t *testing.T) {
	m := load(t)
	cfg := m.config(t)
	for _, w := range m.workloads(t) {
		t.Run(w.kind, func(t *testing.T) { checkProbesAndShutdown(t, w, cfg) })
	}
}

func checkProbesAndShutdown(t *testing.T, w workload, cfg map[string]string) {
	c := w.container

	_, listenPort, err := net.SplitHostPort(setting(t, c, cfg, "WEBINAIRE_SERVER_LISTEN"))
	if err != nil {
		t.Fatalf("WEBINAIRE_SERVER_LISTEN: %v", err)
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: want an HTTP GET of %s", name, path)
			return
		}
		if p.HTTPGet.Path != path {
			t.Errorf("%s: path %q, want %q", name, p.HTTPGet.Path, path)
		}
		port := p.HTTPGet.Port.String()
		for _, cp := range c.Ports {
			if cp.Name == port {
				port = strconv.Itoa(int(cp.ContainerPort))
			}
		}
		if port != listenPort {
			t.Errorf("%s: port %s, but the server listens on %s", name, p.HTTPGet.Port.String(), listenPort)
		}
	}
	probe("readinessProbe", c.ReadinessProbe, "/readyz")
	probe("livenessProbe", c.LivenessProbe, "/healthz")

	// The pause before SIGTERM is a sleep action, which needs nothing in the image, not an exec.
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Exec != nil {
		t.Fatalf("preStop %+v: want a sleep action", c.Lifecycle)
	}
	pause := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	if pause <= 0 {
		t.Errorf("preStop sleeps %v", pause)
	}
	shutdown, err := time.ParseDuration(setting(t, c, cfg, "WEBINAIRE_SERVER_SHUTDOWN_TIMEOUT"))
	if err != nil {
		t.Fatalf("WEBINAIRE_SERVER_SHUTDOWN_TIMEOUT: %v", err)
	}
	grace := w.template.Spec.TerminationGracePeriodSeconds
	if grace == nil {
		t.Fatal("no terminationGracePeriodSeconds (the default, 30 s, knows nothing of server.shutdown_timeout)")
	}
	// Kubernetes counts the preStop pause in the grace period: the server's drain must fit
	// after it, with a few seconds to spare and not many more.
	need := pause + shutdown
	got := time.Duration(*grace) * time.Second
	if got < need || got > need+15*time.Second {
		t.Errorf("terminationGracePeriodSeconds %v, want preStop %v + server.shutdown_timeout %v and up to 15 s more", got, pause, shutdown)
	}
}

func TestSelectorsMatchTheNodes(t *testing.T) {
	m := load(t)
	s, _ := m.statefulSet(t)
	workloads := m.workloads(t)
	podLabels := func(w workload) labels.Set { return labels.Set(w.template.Labels) }
	selects := func(sel *metav1.LabelSelector, w workload) bool {
		selector, err := metav1.LabelSelectorAsSelector(sel)
		return err == nil && !selector.Empty() && selector.Matches(podLabels(w))
	}
	for _, w := range workloads {
		if !selects(w.selector, w) {
			t.Errorf("%s %s: selector %v does not match its pods' labels %v", w.kind, w.name, w.selector, podLabels(w))
		}
		for _, other := range workloads {
			if other.name != w.name && selects(w.selector, other) {
				t.Errorf("%s %s: selector %v takes the pods of %s too", w.kind, w.name, w.selector, other.name)
			}
		}
		// One PodDisruptionBudget per kind of node.
		n := 0
		for _, pdb := range m.pdbs {
			if selects(pdb.Spec.Selector, w) {
				n++
				if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
					t.Errorf("PodDisruptionBudget %s: neither maxUnavailable nor minAvailable", pdb.Name)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s %s: %d PodDisruptionBudgets select its pods, want one", w.kind, w.name, n)
		}
	}
	if len(m.pdbs) != len(workloads) {
		t.Errorf("%d PodDisruptionBudgets for %d kinds of node", len(m.pdbs), len(workloads))
	}

	headless := m.service(s.Spec.ServiceName)
	if headless == nil || headless.Spec.ClusterIP != corev1.ClusterIPNone || !selects(&metav1.LabelSelector{MatchLabels: headless.Spec.Selector}, workloads[0]) {
		t.Fatalf("serviceName %q: want a headless Service (clusterIP None) of the media nodes", s.Spec.ServiceName)
	}
	if public := m.service("webinaire"); public == nil || !selects(&metav1.LabelSelector{MatchLabels: public.Spec.Selector}, workloads[1]) {
		t.Error("Service webinaire: want it to select the API nodes")
	}
	replicas := int32(1)
	if s.Spec.Replicas != nil {
		replicas = *s.Spec.Replicas
	}
	for _, svc := range m.services {
		if len(svc.Spec.Selector) == 0 {
			t.Errorf("Service %s: no selector", svc.Name)
			continue
		}
		// A Service of one node selects its pod by name, which the StatefulSet sets.
		if pod, ok := svc.Spec.Selector["statefulset.kubernetes.io/pod-name"]; ok {
			i, err := strconv.Atoi(strings.TrimPrefix(pod, s.Name+"-"))
			if err != nil || !strings.HasPrefix(pod, s.Name+"-") || i < 0 || int32(i) >= replicas {
				t.Errorf("Service %s selects pod %s, not one of the %d of StatefulSet %s", svc.Name, pod, replicas, s.Name)
			}
			continue
		}
		if !slices.ContainsFunc(workloads, func(w workload) bool {
			return selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, w)
		}) {
			t.Errorf("Service %s: selector %v matches no node's pods", svc.Name, svc.Spec.Selector)
		}
	}
}

func TestServicesAndIngressAgree(t *testing.T) {
	m := load(t)
	s, c := m.statefulSet(t)
	cfg := m.config(t)
	names := map[string]bool{}
	for _, w := range m.workloads(t) {
		for _, p := range w.container.Ports {
			names[p.Name] = true
		}
	}
	for _, svc := range m.services {
		for _, p := range svc.Spec.Ports {
			if p.TargetPort.String() != "" && !names[p.TargetPort.String()] {
				t.Errorf("Service %s: targetPort %s is not a port of the container", svc.Name, p.TargetPort.String())
			}
		}
	}
	if len(m.ingresses) == 0 {
		t.Fatal("no Ingress")
	}
	hosts := map[string]string{} // host name -> Service
	for _, ing := range m.ingresses {
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				if b == nil {
					t.Errorf("Ingress %s, host %s: no Service backend", ing.Name, r.Host)
					continue
				}
				svc := m.service(b.Name)
				if svc == nil {
					t.Errorf("Ingress %s, host %s: no Service %s", ing.Name, r.Host, b.Name)
					continue
				}
				if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name == b.Port.Name || sp.Port == b.Port.Number }) {
					t.Errorf("Ingress %s, host %s: Service %s has no port %s/%d", ing.Name, r.Host, b.Name, b.Port.Name, b.Port.Number)
				}
				hosts[r.Host] = b.Name
			}
		}
	}
	public, err := url.Parse(cfg["WEBINAIRE_SERVER_PUBLIC_URL"])
	if err != nil || hosts[public.Host] == "" {
		t.Errorf("server.public_url %q: no Ingress rule for its host", cfg["WEBINAIRE_SERVER_PUBLIC_URL"])
	}
	// Each node's cluster.url reaches that node, through the Service that selects its pod.
	clusterURL := setting(t, c, cfg, "WEBINAIRE_CLUSTER_URL")
	for i := range *s.Spec.Replicas {
		pod := fmt.Sprintf("%s-%d", s.Name, i)
		u, err := url.Parse(strings.ReplaceAll(clusterURL, "$(WEBINAIRE_CLUSTER_NODE_ID)", pod))
		if err != nil {
			t.Fatal(err)
		}
		svc := m.service(hosts[u.Host])
		if svc == nil || svc.Spec.Selector["statefulset.kubernetes.io/pod-name"] != pod {
			t.Errorf("node %s: its cluster.url host %s does not lead to a Service of its pod alone", pod, u.Host)
		}
	}
}

// documentedEnv reads the WEBINAIRE_* variables of docs/configuration.md's tables.
func documentedEnv(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(configDoc)
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `[a-z0-9_.]+` \\| `(WEBINAIRE_[A-Z0-9_]+)` \\|")
	vars := map[string]bool{}
	for _, m := range row.FindAllSubmatch(data, -1) {
		vars[string(m[1])] = true
	}
	if len(vars) < 50 {
		t.Fatalf("%s: only %d variables found in its tables", configDoc, len(vars))
	}
	return vars
}

func TestEnvironmentIsDocumented(t *testing.T) {
	m := load(t)
	known := documentedEnv(t)
	check := func(where, name string) {
		if strings.HasPrefix(name, "WEBINAIRE_") && !known[name] {
			t.Errorf("%s: %s is not a key of %s (the app refuses to start on it)", where, name, configDoc)
		}
	}
	for _, cm := range m.configMaps {
		for k := range cm.Data {
			if !strings.HasPrefix(k, "WEBINAIRE_") {
				t.Errorf("ConfigMap %s: %s is not a WEBINAIRE_ variable", cm.Name, k)
			}
			check("ConfigMap "+cm.Name, k)
		}
	}
	cfg := m.config(t)
	for _, w := range m.workloads(t) {
		c := w.container
		for _, e := range c.Env {
			check(w.kind+" "+w.name, e.Name)
		}
		for _, src := range c.EnvFrom {
			if src.ConfigMapRef == nil || src.ConfigMapRef.Name != configMapName || src.Prefix != "" {
				t.Errorf("%s %s: envFrom %+v, want ConfigMap %s, without a prefix", w.kind, w.name, src, configMapName)
			}
		}
		// Set twice, the container's env wins silently: say each setting once.
		for _, e := range c.Env {
			if _, ok := cfg[e.Name]; ok {
				t.Errorf("%s %s: %s is set both in the container and in ConfigMap %s", w.kind, w.name, e.Name, configMapName)
			}
		}
	}
}

func TestProductionSettings(t *testing.T) {
	m := load(t)
	cfg := m.config(t)
	want := map[string]string{
		"WEBINAIRE_MODE":            "production",
		"WEBINAIRE_DATABASE_DRIVER": "postgres",
		"WEBINAIRE_DEV_IDP_ENABLED": "false",
	}
	for k, v := range want {
		if got := cfg[k]; got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if u, err := url.Parse(cfg["WEBINAIRE_SERVER_PUBLIC_URL"]); err != nil || u.Scheme != "https" {
		t.Errorf("WEBINAIRE_SERVER_PUBLIC_URL %q: production needs https", cfg["WEBINAIRE_SERVER_PUBLIC_URL"])
	}
	for _, k := range []string{"WEBINAIRE_OIDC_ISSUER", "WEBINAIRE_OIDC_CLIENT_ID", "WEBINAIRE_RECORDINGS_S3_ENDPOINT", "WEBINAIRE_RECORDINGS_S3_BUCKET"} {
		if cfg[k] == "" {
			t.Errorf("%s is not set", k)
		}
	}
	for _, w := range m.workloads(t) {
		t.Run(w.kind, func(t *testing.T) { checkContainerSettings(t, w.container, cfg) })
	}
}

// checkContainerSettings checks that a node's container takes its secrets from the Secret
// and has its resources set.
func checkContainerSettings(t *testing.T, c *corev1.Container, cfg map[string]string) {
	// Secrets come from the Secret, never as values.
	for _, k := range []string{"WEBINAIRE_DATABASE_URL", "WEBINAIRE_OIDC_CLIENT_SECRET", "WEBINAIRE_MEDIA_TURN_SECRET", "WEBINAIRE_RECORDINGS_S3_ACCESS_KEY"} {
		e, ok := env(c, k)
		if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s: want it from a Secret (secretKeyRef)", k)
		}
		if _, ok := cfg[k]; ok {
			t.Errorf("%s is in the ConfigMap", k)
		}
	}
	for _, k := range []string{"requests", "limits"} {
		rl := c.Resources.Requests
		if k == "limits" {
			rl = c.Resources.Limits
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := rl[r]; !ok || q.Sign() <= 0 {
				t.Errorf("resources.%s.%s is not set", k, r)
			}
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
		if req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s above limit %s", r, req.String(), lim.String())
		}
	}
}

func TestImagesArePinned(t *testing.T) {
	m := load(t)
	images := map[string]bool{}
	for _, w := range m.workloads(t) {
		images[w.container.Image] = true
		for _, c := range slices.Concat(w.template.Spec.InitContainers, w.template.Spec.Containers) {
			img := c.Image
			if strings.Contains(img, "@sha256:") {
				continue
			}
			i := strings.LastIndex(img, ":")
			if i < 0 || strings.Contains(img[i:], "/") || img[i+1:] == "latest" {
				t.Errorf("container %s: image %q, want a fixed tag or a digest", c.Name, img)
			}
			if c.ImagePullPolicy == corev1.PullAlways {
				t.Errorf("container %s: imagePullPolicy Always with a fixed version", c.Name)
			}
		}
	}
	if len(images) != 1 {
		t.Errorf("the media and API nodes run different images %v: one version everywhere", images)
	}
	for _, cl := range m.cnpgClusters {
		spec, _ := cl["spec"].(map[string]any)
		img, _ := spec["imageName"].(string)
		if img != "" && (strings.HasSuffix(img, ":latest") || !strings.Contains(img, ":")) {
			t.Errorf("CloudNativePG example: imageName %q, want a fixed version", img)
		}
	}
}

// Every key the nodes read from the Secret is in the example, whose values are placeholders.
func TestSecretExample(t *testing.T) {
	m := load(t)
	cfg := m.config(t)
	secret := m.secret(t)
	if len(secret.Data) != 0 {
		t.Error("the Secret example has data: write placeholders in stringData")
	}
	for k, v := range secret.StringData {
		if !strings.Contains(v, "CHANGE-ME") {
			t.Errorf("Secret example: %s = %q is not a placeholder (CHANGE-ME)", k, v)
		}
	}
	has := func(where, name, key string) {
		if name != secretName {
			t.Errorf("%s: Secret %q, want %s", where, name, secretName)
		} else if _, ok := secret.StringData[key]; !ok {
			t.Errorf("%s: key %q is not in the Secret example", where, key)
		}
	}
	for _, w := range m.workloads(t) {
		checkSecretUse(t, w, cfg, has)
	}
}

// checkSecretUse checks that the Secret's keys a node reads are in the example, and the
// key files the configuration names are files of its mounted Secret.
func checkSecretUse(t *testing.T, w workload, cfg map[string]string, has func(where, name, key string)) {
	c := w.container
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			has(e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
		}
	}
	mounted := map[string]bool{}
	for _, v := range w.template.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		var dir string
		for _, vm := range c.VolumeMounts {
			if vm.Name == v.Name {
				dir = vm.MountPath
				if !vm.ReadOnly {
					t.Errorf("Secret volume %s: mounted read-write", v.Name)
				}
			}
		}
		if dir == "" {
			t.Errorf("Secret volume %s: not mounted", v.Name)
		}
		for _, it := range v.Secret.Items {
			has("volume "+v.Name, v.Secret.SecretName, it.Key)
			mounted[filepath.Join(dir, it.Path)] = true
		}
	}
	for k, v := range cfg {
		if strings.HasSuffix(k, "_FILE") && strings.HasPrefix(v, "/etc/") && !mounted[v] {
			t.Errorf("%s = %s: no such file in the mounted Secret", k, v)
		}
	}
	// The ledger's public key is read beside its signing key (.key becomes .pub): on a
	// read-only mount it must be there.
	if sk := cfg["WEBINAIRE_PRIVACY_LEDGER_SIGNING_KEY_FILE"]; sk != "" && !mounted[strings.TrimSuffix(sk, ".key")+".pub"] {
		t.Errorf("%s: its .pub is not mounted beside it", sk)
	}
}

// The CloudNativePG example creates the database, owner and Service the Secret's URL names.
func TestCloudNativePGExample(t *testing.T) {
	m := load(t)
	if len(m.cnpgClusters) == 0 {
		t.Skip("no CloudNativePG example")
	}
	u, err := url.Parse(m.secret(t).StringData["database-url"])
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range m.cnpgClusters {
		meta, _ := cl["metadata"].(map[string]any)
		spec, _ := cl["spec"].(map[string]any)
		boot, _ := spec["bootstrap"].(map[string]any)
		initdb, _ := boot["initdb"].(map[string]any)
		name, _ := meta["name"].(string)
		ns, _ := meta["namespace"].(string)
		if want := fmt.Sprintf("%s-rw.%s.svc", name, ns); u.Hostname() != want {
			t.Errorf("database-url host %q, want %q (the example's read-write Service)", u.Hostname(), want)
		}
		if db := strings.TrimPrefix(u.Path, "/"); initdb["database"] != db || initdb["owner"] != u.User.Username() {
			t.Errorf("the example creates database %v owned by %v; database-url names %s as %s", initdb["database"], initdb["owner"], db, u.User.Username())
		}
		if ns != m.kustomization.Namespace {
			t.Errorf("the example is in namespace %q, the nodes in %q", ns, m.kustomization.Namespace)
		}
	}
}
