package placement

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedis returns Leases kept in Redis under keys starting with prefix:
//
//	<prefix>room:<room>  the lease: the owner's node id, expiring with the lease (SET NX PX)
//	<prefix>node:<node>  the set of rooms node holds, expiring with its longest lease
//	<prefix>rooms        the set of rooms with a lease (an index; cleaned lazily)
//
// Every compare-and-set is one Lua script, so racing processes see one owner. ReleaseAll
// and Rooms read the two sets rather than SCAN the keyspace: the Redis is shared with the
// control plane, SCAN would walk all of its keys on every call and is not atomic, while
// the node set makes ReleaseAll one atomic step over only that node's rooms. A set entry
// may outlive its lease (expiry, a crash between calls); readers check the lease itself
// and drop stale entries.
//
// With Redis Cluster, put a hash tag in prefix (e.g. "{placement}:") so that all keys
// live in one slot: the scripts touch several keys, some derived inside the script.
func NewRedis(client redis.UniversalClient, prefix string) Leases {
	return &redisLeases{rdb: client, prefix: prefix}
}

type redisLeases struct {
	rdb    redis.UniversalClient
	prefix string
}

func (r *redisLeases) leaseKey(room string) string { return r.prefix + "room:" + room }
func (r *redisLeases) nodeKey(node string) string  { return r.prefix + "node:" + node }
func (r *redisLeases) indexKey() string            { return r.prefix + "rooms" }

// storeErr wraps a Redis failure with ErrUnavailable; a caller's own cancellation or
// deadline is reported as such instead, since the store may be fine.
func storeErr(ctx context.Context, op, room string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("placement: %s %q: %w", op, room, ctx.Err())
	}
	return fmt.Errorf("placement: %s %q: %w: %w", op, room, ErrUnavailable, err)
}

// keepSetAlive extends the node set's expiry to the lease's when shorter (PTTL is -1 for
// a set without one). KEYS[2] is the node set, ARGV[2] the ttl in ms.
const keepSetAlive = `
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
`

// KEYS: lease, node set, index. ARGV: node, ttl ms, room.
var acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('SADD', KEYS[2], ARGV[3])` + keepSetAlive + `
  redis.call('SADD', KEYS[3], ARGV[3])
  return ARGV[1]
end
return redis.call('GET', KEYS[1])
`)

// KEYS: lease, node set, index. ARGV: node, ttl ms, room. Re-adding to the sets heals
// an entry lost to a race with a stale-entry cleanup.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])` + keepSetAlive + `
redis.call('SADD', KEYS[3], ARGV[3])
return 1
`)

// KEYS: lease, node set, index. ARGV: node, room.
var releaseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[3], ARGV[2])
elseif not cur then
  redis.call('SREM', KEYS[3], ARGV[2])
end
redis.call('SREM', KEYS[2], ARGV[2])
return 0
`)

// KEYS: lease, to's node set (KEYS[2], for keepSetAlive), from's node set, index.
// ARGV: to, ttl ms, from, room.
var takeoverScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[3] then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SREM', KEYS[3], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[4])` + keepSetAlive + `
redis.call('SADD', KEYS[4], ARGV[4])
return ARGV[1]
`)

// KEYS: index. ARGV: lease key prefix, rooms whose lease looked gone.
var pruneIndexScript = redis.NewScript(`
for i = 2, #ARGV do
  if redis.call('EXISTS', ARGV[1] .. ARGV[i]) == 0 then redis.call('SREM', KEYS[1], ARGV[i]) end
end
return 0
`)

// KEYS: node set, index. ARGV: node, lease key prefix.
var releaseAllScript = redis.NewScript(`
local n = 0
for _, room in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local k = ARGV[2] .. room
  local cur = redis.call('GET', k)
  if cur == ARGV[1] then
    redis.call('DEL', k)
    redis.call('SREM', KEYS[2], room)
    n = n + 1
  elseif not cur then
    redis.call('SREM', KEYS[2], room)
  end
end
redis.call('DEL', KEYS[1])
return n
`)

func (r *redisLeases) Acquire(ctx context.Context, room, node string, ttl time.Duration) (string, error) {
	if err := checkArgs(ctx, "acquire", room, ttl, node); err != nil {
		return "", err
	}
	owner, err := acquireScript.Run(ctx, r.rdb,
		[]string{r.leaseKey(room), r.nodeKey(node), r.indexKey()},
		node, ttl.Milliseconds(), room).Text()
	if errors.Is(err, redis.Nil) {
		// The lease expired between SET NX and GET inside one script: cannot happen, as
		// scripts are atomic; say so rather than return "".
		return "", fmt.Errorf("placement: acquire %q: no owner after acquire", room)
	}
	if err != nil {
		return "", storeErr(ctx, "acquire", room, err)
	}
	return owner, nil
}

func (r *redisLeases) Renew(ctx context.Context, room, node string, ttl time.Duration) (bool, error) {
	if err := checkArgs(ctx, "renew", room, ttl, node); err != nil {
		return false, err
	}
	n, err := renewScript.Run(ctx, r.rdb,
		[]string{r.leaseKey(room), r.nodeKey(node), r.indexKey()},
		node, ttl.Milliseconds(), room).Int()
	if err != nil {
		return false, storeErr(ctx, "renew", room, err)
	}
	return n == 1, nil
}

func (r *redisLeases) Release(ctx context.Context, room, node string) error {
	if err := checkArgs(ctx, "release", room, time.Second, node); err != nil {
		return err
	}
	err := releaseScript.Run(ctx, r.rdb,
		[]string{r.leaseKey(room), r.nodeKey(node), r.indexKey()},
		node, room).Err()
	if err != nil {
		return storeErr(ctx, "release", room, err)
	}
	return nil
}

func (r *redisLeases) Owner(ctx context.Context, room string) (string, error) {
	if err := checkArgs(ctx, "owner", room, time.Second); err != nil {
		return "", err
	}
	owner, err := r.rdb.Get(ctx, r.leaseKey(room)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", storeErr(ctx, "owner", room, err)
	}
	return owner, nil
}

func (r *redisLeases) Takeover(ctx context.Context, room, from, to string, ttl time.Duration) (string, error) {
	if err := checkArgs(ctx, "takeover", room, ttl, from, to); err != nil {
		return "", err
	}
	owner, err := takeoverScript.Run(ctx, r.rdb,
		[]string{r.leaseKey(room), r.nodeKey(to), r.nodeKey(from), r.indexKey()},
		to, ttl.Milliseconds(), from, room).Text()
	if err != nil {
		return "", storeErr(ctx, "takeover", room, err)
	}
	return owner, nil
}

func (r *redisLeases) ReleaseAll(ctx context.Context, node string) (int, error) {
	if err := checkArgs(ctx, "release all", "*", time.Second, node); err != nil {
		return 0, err
	}
	n, err := releaseAllScript.Run(ctx, r.rdb,
		[]string{r.nodeKey(node), r.indexKey()},
		node, r.leaseKey("")).Int()
	if err != nil {
		return 0, storeErr(ctx, "release all of", node, err)
	}
	return n, nil
}

// roomsBatch is how many index entries Rooms reads per SSCAN/MGET round trip.
const roomsBatch = 256

func (r *redisLeases) Rooms(ctx context.Context, limit int) (map[string]string, error) {
	if err := checkLimit(ctx, limit); err != nil {
		return nil, err
	}
	out := make(map[string]string)
	var cursor uint64
	for {
		names, next, err := r.rdb.SScan(ctx, r.indexKey(), cursor, "", roomsBatch).Result()
		if err != nil {
			return nil, storeErr(ctx, "rooms", "*", err)
		}
		if len(names) > 0 {
			keys := make([]string, len(names))
			for i, n := range names {
				keys[i] = r.leaseKey(n)
			}
			owners, err := r.rdb.MGet(ctx, keys...).Result()
			if err != nil {
				return nil, storeErr(ctx, "rooms", "*", err)
			}
			var stale []any
			for i, o := range owners {
				s, ok := o.(string)
				if !ok {
					stale = append(stale, names[i])
					continue
				}
				if len(out) < limit {
					out[names[i]] = s
				}
			}
			if len(stale) > 0 {
				// Best effort: the script re-checks each lease, so a room leased meanwhile
				// stays indexed.
				args := append([]any{r.leaseKey("")}, stale...)
				_ = pruneIndexScript.Run(ctx, r.rdb, []string{r.indexKey()}, args...).Err()
			}
		}
		cursor = next
		if cursor == 0 || len(out) >= limit {
			return out, nil
		}
	}
}
