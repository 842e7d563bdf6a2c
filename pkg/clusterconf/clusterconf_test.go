package clusterconf

import (
	"net"
	"strings"
	"testing"
)

func TestClusterValidate(t *testing.T) {
	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
	tests := []struct {
		name string
		edit func(*Cluster)
		dev  bool
		want string
	}{
		{"disabled needs nothing", func(c *Cluster) { c.Enabled = false; c.BindAddr = "" }, false, ""},
		{"valid", func(*Cluster) {}, false, ""},
		{"no key in production", func(c *Cluster) { c.SecretKey = "" }, false, "ATRIUM_X_CLUSTER_SECRET_KEY"},
		{"no key in dev", func(c *Cluster) { c.SecretKey = "" }, true, ""},
		{"key not base64", func(c *Cluster) { c.SecretKey = "%%%" }, false, "not base64"},
		{"key of 5 bytes", func(c *Cluster) { c.SecretKey = "aGVsbG8=" }, false, "16, 24 or 32"},
		{"bad bind", func(c *Cluster) { c.BindAddr = "nope" }, false, "bind_addr"},
		{"bad advertise", func(c *Cluster) { c.AdvertiseAddr = "nope" }, false, "advertise_addr"},
		{"bad preset", func(c *Cluster) { c.Preset = "wan" }, false, "preset"},
		{"relative signal url", func(c *Cluster) { c.SignalURL = "/rtc" }, false, "signal_url"},
		{"zero load interval", func(c *Cluster) { c.LoadInterval = 0 }, false, "load_interval"},
	}
	for _, tt := range tests {
		c := DefaultCluster()
		c.Enabled = true
		c.SecretKey = key
		tt.edit(&c)
		err := c.Validate(tt.dev, "ATRIUM_X")
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestSignalURLFor(t *testing.T) {
	httpAddr := &net.TCPAddr{IP: net.IPv4zero, Port: 7880}
	tests := []struct {
		c    Cluster
		want string
	}{
		{Cluster{}, "http://127.0.0.1:7880"},
		{Cluster{AdvertiseAddr: "10.0.0.5:7946"}, "http://10.0.0.5:7880"},
		{Cluster{SignalURL: "https://sfu-a.example.com"}, "https://sfu-a.example.com"},
	}
	for _, tt := range tests {
		if got := tt.c.SignalURLFor(httpAddr); got != tt.want {
			t.Errorf("SignalURLFor(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestGossipConfig(t *testing.T) {
	c := DefaultCluster()
	c.BindAddr, c.AdvertiseAddr, c.Seeds = "127.0.0.1:7000", "10.1.2.3:7001", []string{"a:1"}
	c.SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	g, err := c.GossipConfig("n1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.NodeID != "n1" || g.BindAddr != "127.0.0.1" || g.BindPort != 7000 || g.AdvertiseAddr != "10.1.2.3" ||
		g.AdvertisePort != 7001 || len(g.SecretKey) != 32 || len(g.Seeds) != 1 {
		t.Errorf("GossipConfig = %+v", g)
	}
}
