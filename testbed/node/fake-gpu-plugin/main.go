// fake-gpu-plugin is a Kubernetes device plugin for the test bed's real node. It speaks the kubelet's
// device-plugin API (v1beta1, gRPC over unix sockets in the kubelet's device-plugin directory) like
// NVIDIA's plugin does, but its devices are made up: each resource gets N healthy devices with fixed,
// UUID-shaped IDs (GPU-<uuid> for whole GPUs, MIG-<uuid> for MIG slices), and Allocate answers with
// the environment NVIDIA's plugin sets by default (NVIDIA_VISIBLE_DEVICES, the allocated IDs), so a
// container can see which device it was given.
//
//	fake-gpu-plugin -node real-node-0 -resource nvidia.com/gpu=2 -resource nvidia.com/mig-1g.10gb=3
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

type resourceFlags map[string]int

func (r resourceFlags) String() string { return fmt.Sprint(map[string]int(r)) }

func (r resourceFlags) Set(v string) error {
	name, count, ok := strings.Cut(v, "=")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n < 1 || !strings.HasPrefix(name, "nvidia.com/") {
		return fmt.Errorf("want nvidia.com/<resource>=<count ≥ 1>, got %q", v)
	}
	r[name] = n
	return nil
}

// deviceID is stable for a node, resource and index, so a restarted plugin advertises the same devices
// (the kubelet's checkpoint of allocations stays valid).
func deviceID(node, resource string, i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d", node, resource, i)))
	h := fmt.Sprintf("%x", sum[:16])
	prefix := "GPU"
	if strings.HasPrefix(resource, "nvidia.com/mig-") {
		prefix = "MIG"
	}
	return fmt.Sprintf("%s-%s-%s-%s-%s-%s", prefix, h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

type plugin struct {
	pluginapi.UnimplementedDevicePluginServer
	resource string
	devices  []*pluginapi.Device
	socket   string
	server   *grpc.Server
}

func (p *plugin) GetDevicePluginOptions(context.Context, *pluginapi.Empty) (*pluginapi.DevicePluginOptions, error) {
	return &pluginapi.DevicePluginOptions{}, nil
}

// ListAndWatch sends the device list once; fake devices never change health.
func (p *plugin) ListAndWatch(_ *pluginapi.Empty, stream grpc.ServerStreamingServer[pluginapi.ListAndWatchResponse]) error {
	if err := stream.Send(&pluginapi.ListAndWatchResponse{Devices: p.devices}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

func (p *plugin) Allocate(_ context.Context, req *pluginapi.AllocateRequest) (*pluginapi.AllocateResponse, error) {
	known := map[string]bool{}
	for _, d := range p.devices {
		known[d.ID] = true
	}
	resp := &pluginapi.AllocateResponse{}
	for _, c := range req.ContainerRequests {
		ids := append([]string(nil), c.DevicesIds...)
		sort.Strings(ids)
		for _, id := range ids {
			if !known[id] {
				return nil, fmt.Errorf("%s: unknown device %q", p.resource, id)
			}
		}
		log.Printf("%s: allocate %s", p.resource, strings.Join(ids, ","))
		resp.ContainerResponses = append(resp.ContainerResponses, &pluginapi.ContainerAllocateResponse{
			Envs: map[string]string{"NVIDIA_VISIBLE_DEVICES": strings.Join(ids, ",")},
		})
	}
	return resp, nil
}

func (p *plugin) PreStartContainer(context.Context, *pluginapi.PreStartContainerRequest) (*pluginapi.PreStartContainerResponse, error) {
	return &pluginapi.PreStartContainerResponse{}, nil
}

func (p *plugin) serve() error {
	_ = os.Remove(p.socket)
	l, err := net.Listen("unix", p.socket)
	if err != nil {
		return err
	}
	p.server = grpc.NewServer()
	pluginapi.RegisterDevicePluginServer(p.server, p)
	go func() {
		if err := p.server.Serve(l); err != nil {
			log.Printf("%s: serve: %v", p.resource, err)
		}
	}()
	return nil
}

func (p *plugin) register(kubeletSocket string) error {
	conn, err := grpc.NewClient("unix://"+kubeletSocket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = pluginapi.NewRegistrationClient(conn).Register(ctx, &pluginapi.RegisterRequest{
		Version:      pluginapi.Version,
		Endpoint:     filepath.Base(p.socket),
		ResourceName: p.resource,
		Options:      &pluginapi.DevicePluginOptions{},
	})
	return err
}

// socketID identifies the kubelet's registration socket; a restarted kubelet makes a new one and
// forgets every plugin, which must then register again.
func socketID(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

func main() {
	resources := resourceFlags{}
	node := flag.String("node", "", "node name (seeds the device IDs)")
	dir := flag.String("dir", pluginapi.DevicePluginPath, "the kubelet's device-plugin directory")
	flag.Var(resources, "resource", "nvidia.com/<resource>=<count>; repeatable")
	flag.Parse()
	if *node == "" || len(resources) == 0 {
		log.Fatal("usage: fake-gpu-plugin -node <name> -resource nvidia.com/gpu=<n> [-resource ...]")
	}
	kubeletSocket := filepath.Join(*dir, filepath.Base(pluginapi.KubeletSocket))

	names := make([]string, 0, len(resources))
	for name := range resources {
		names = append(names, name)
	}
	sort.Strings(names)
	var plugins []*plugin
	for _, name := range names {
		p := &plugin{
			resource: name,
			socket:   filepath.Join(*dir, "cellpipe-fake-"+strings.NewReplacer("/", "-", ".", "-").Replace(name)+".sock"),
		}
		for i := 0; i < resources[name]; i++ {
			p.devices = append(p.devices, &pluginapi.Device{ID: deviceID(*node, name, i), Health: pluginapi.Healthy})
		}
		if err := p.serve(); err != nil {
			log.Fatalf("%s: listen on %s: %v", name, p.socket, err)
		}
		plugins = append(plugins, p)
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	var registeredWith uint64
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if id, err := socketID(kubeletSocket); err == nil && id != registeredWith {
			var failed error
			for _, p := range plugins {
				if err := p.register(kubeletSocket); err != nil {
					failed = errors.Join(failed, fmt.Errorf("%s: %w", p.resource, err))
				}
			}
			if failed != nil {
				log.Printf("registering with the kubelet: %v (retrying)", failed)
			} else {
				registeredWith = id
				for _, p := range plugins {
					log.Printf("registered %s: %d devices", p.resource, len(p.devices))
				}
			}
		}
		select {
		case <-stop:
			for _, p := range plugins {
				p.server.Stop()
				_ = os.Remove(p.socket)
			}
			return
		case <-tick.C:
		}
	}
}
