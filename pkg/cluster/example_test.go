package cluster_test

import (
	"context"
	"fmt"

	"github.com/atrium-live/atrium/pkg/cluster"
)

// Two members on loopback: the second joins through the first, and sees both.
func ExampleJoin() {
	ctx := context.Background()
	cfg := cluster.Config{NodeID: "sfu-1", BindAddr: "127.0.0.1", Preset: cluster.PresetLocal}
	a, err := cluster.Join(ctx, cfg, cluster.Meta{Role: cluster.RoleSFU, SignalURL: "http://127.0.0.1:7880"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Shutdown()

	cfg = cluster.Config{NodeID: "gw-1", BindAddr: "127.0.0.1", Preset: cluster.PresetLocal, Seeds: []string{a.Addr()}}
	b, err := cluster.Join(ctx, cfg, cluster.Meta{Role: cluster.RoleSignal, SignalURL: "http://127.0.0.1:7881"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Leave(ctx)

	for _, m := range b.Members() {
		fmt.Println(m.NodeID, m.Role, m.State)
	}
	// Output:
	// gw-1 signal serving
	// sfu-1 sfu serving
}
