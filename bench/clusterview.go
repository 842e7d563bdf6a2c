package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/atrium-live/atrium/pkg/cluster"
)

// ClusterView is what GET /admin/cluster answers on a cluster node or gateway: the
// members as the answering member sees them through gossip.
type ClusterView struct {
	Self    string         `json:"self"`
	Members []cluster.Meta `json:"members"`
}

// Member returns the member with id.
func (v *ClusterView) Member(id string) (cluster.Meta, bool) {
	for _, m := range v.Members {
		if m.NodeID == id {
			return m, true
		}
	}
	return cluster.Meta{}, false
}

// SFUs lists the SFU members, in the order the view has them.
func (v *ClusterView) SFUs() []cluster.Meta {
	var out []cluster.Meta
	for _, m := range v.Members {
		if m.Role == cluster.RoleSFU {
			out = append(out, m)
		}
	}
	return out
}

// ErrNotCluster is returned (wrapped) when the target has no /admin/cluster: a single
// server, or a node without cluster.enabled.
var ErrNotCluster = errors.New("bench: the target is not a cluster node or gateway")

// FetchCluster reads t's /admin/cluster with an operator token (roomCreate and roomList
// grants) minted from t's key and secret.
func FetchCluster(ctx context.Context, client *http.Client, t Target) (*ClusterView, error) {
	base, err := httpBase(t.URL)
	if err != nil {
		return nil, err
	}
	tok, err := auth.NewAccessToken(t.APIKey, t.APISecret).SetIdentity("atrium-bench-operator").
		SetValidFor(time.Hour).SetVideoGrant(&auth.VideoGrant{RoomCreate: true, RoomList: true}).ToJWT()
	if err != nil {
		return nil, fmt.Errorf("bench: operator token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/admin/cluster", nil)
	if err != nil {
		return nil, fmt.Errorf("bench: /admin/cluster: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: /admin/cluster: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("bench: /admin/cluster: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s/admin/cluster answered 404", ErrNotCluster, base)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("bench: %s/admin/cluster: %s: %s", base, resp.Status, strings.TrimSpace(string(body)))
	}
	var v ClusterView
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("bench: %s/admin/cluster: %w", base, err)
	}
	if len(v.SFUs()) == 0 {
		return nil, fmt.Errorf("%w: %s/admin/cluster lists no SFU member", ErrNotCluster, base)
	}
	return &v, nil
}

// OwnerURLFromCluster returns an Options.OwnerURL that reads t's /admin/cluster for the
// node's signal URL (for a single run whose scenario has direct groups).
func OwnerURLFromCluster(t Target, client *http.Client) func(context.Context, string) (string, error) {
	return func(ctx context.Context, node string) (string, error) {
		v, err := FetchCluster(ctx, client, t)
		if err != nil {
			return "", err
		}
		m, ok := v.Member(node)
		if !ok {
			return "", fmt.Errorf("node %q is not a member %s knows", node, t.URL)
		}
		return wsBase(m.SignalURL)
	}
}

// httpBase turns a ws(s) or http(s) server URL into its http(s) base, without a trailing
// slash.
func httpBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("bench: url %q: %w", raw, err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	case "http", "https":
	default:
		return "", fmt.Errorf("bench: url %q: scheme must be ws, wss, http or https", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("bench: url %q has no host", raw)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// wsBase turns an http(s) or ws(s) URL into its ws(s) form.
func wsBase(raw string) (string, error) {
	b, err := httpBase(raw)
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(b, "https://"); ok {
		return "wss://" + rest, nil
	}
	return "ws://" + strings.TrimPrefix(b, "http://"), nil
}
