package clusterconf

import "github.com/atrium-live/atrium/pkg/secrets"

// Secrets lists the cluster's secret settings for the pkg/secrets check of a role whose
// variables start with envPrefix: the gossip key when clustering is on (base64 of 16 to 32
// bytes, so at least 24 characters) and the placement Redis password when one is set.
func (c Cluster) Secrets(envPrefix string, p Placement) []secrets.Setting {
	var out []secrets.Setting
	if c.Enabled {
		out = append(out, secrets.Setting{Path: "cluster.secret_key", Env: envPrefix + "_CLUSTER_SECRET_KEY", Value: c.SecretKey, MinLen: 24})
	}
	return append(out, secrets.Setting{Path: "placement.redis_password", Env: envPrefix + "_PLACEMENT_REDIS_PASSWORD",
		Value: p.RedisPassword, Optional: true, MinLen: 16})
}
