package egress

import (
	"log/slog"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/atrium-live/atrium/pkg/access"
)

// APIConfig is the YAML face of the Egress API on SFU nodes and gateways: where the job
// store lives (the recorders' Redis) and the bucket recorders write to. With RedisAddr
// empty the API is not served.
type APIConfig struct {
	RedisAddr     string `yaml:"redis_addr"`
	RedisPassword string `yaml:"redis_password"`
	RedisDB       int    `yaml:"redis_db"`
	// KeyPrefix must equal the recorders' redis.prefix.
	KeyPrefix string `yaml:"key_prefix"`
	// Bucket must equal the recorders' s3.bucket.
	Bucket string `yaml:"bucket"`
}

// DefaultAPIConfig matches the recorder's defaults, with the API off.
func DefaultAPIConfig() APIConfig {
	return APIConfig{KeyPrefix: "atrium:rec", Bucket: "atrium-recordings"}
}

// Open returns the Twirp handler to mount at PathPrefix and a func closing its Redis client,
// or a nil handler when RedisAddr is empty.
func (c APIConfig) Open(keys access.Keys, log *slog.Logger) (http.Handler, func() error) {
	if c.RedisAddr == "" {
		return nil, func() error { return nil }
	}
	rdb := redis.NewClient(&redis.Options{Addr: c.RedisAddr, Password: c.RedisPassword, DB: c.RedisDB})
	h := NewHandler(Params{Store: NewStore(rdb, c.KeyPrefix), Keys: keys, Bucket: c.Bucket, Logger: log})
	return h, rdb.Close
}
