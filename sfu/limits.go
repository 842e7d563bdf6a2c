package sfu

import (
	"errors"
	"fmt"
	"math"

	"golang.org/x/time/rate"
)

// LimitsConfig bounds what one client can make a node hold, fan out or read (issue 17,
// docs/security.md). A zero field takes the default shown by DefaultLimits.
type LimitsConfig struct {
	// MaxAPIBodyBytes caps a RoomService (Twirp) request body. LiveKit's requests are small;
	// the largest legitimate one is SendData with 64 KiB of payload.
	MaxAPIBodyBytes int64 `yaml:"max_api_body_bytes"`
	// MaxMetadataBytes caps participant and room metadata (LiveKit's default: 64,000).
	MaxMetadataBytes int `yaml:"max_metadata_bytes"`
	// MaxNameBytes caps a participant's display name.
	MaxNameBytes int `yaml:"max_name_bytes"`
	// MaxAttributesBytes caps a participant's attributes, keys plus values, after an update.
	MaxAttributesBytes int `yaml:"max_attributes_bytes"`
	// MetadataUpdatesPerSecond and MetadataUpdateBurst rate-limit name, metadata and
	// attribute changes per participant (each is fanned out to the whole room).
	MetadataUpdatesPerSecond float64 `yaml:"metadata_updates_per_second"`
	MetadataUpdateBurst      int     `yaml:"metadata_update_burst"`
	// SignalQueueBytes bounds the signal responses waiting for one participant's socket (the
	// one being written is not counted); a client that does not read past it is
	// disconnected (atrium_sfu_slow_clients_total).
	SignalQueueBytes int64 `yaml:"signal_queue_bytes"`
}

// DefaultLimits are the limits a zero LimitsConfig stands for.
func DefaultLimits() LimitsConfig {
	return LimitsConfig{
		MaxAPIBodyBytes:          1 << 20,
		MaxMetadataBytes:         64000,
		MaxNameBytes:             256,
		MaxAttributesBytes:       64000,
		MetadataUpdatesPerSecond: 2,
		MetadataUpdateBurst:      10,
		SignalQueueBytes:         4 << 20,
	}
}

// validate refuses settings that cannot be meant: negative sizes and rates (zero means the
// default, as documented, but a negative value used to fall back to it silently), a rate
// that is not a number, an API body cap too small for any request and a signal queue
// smaller than one ordinary signal message. Errors name the YAML key.
func (l LimitsConfig) validate() error {
	var errs []error
	neg := func(key string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("limits.%s is %d: must not be negative (0 means the default)", key, v))
		}
	}
	neg("max_api_body_bytes", l.MaxAPIBodyBytes)
	neg("max_metadata_bytes", int64(l.MaxMetadataBytes))
	neg("max_name_bytes", int64(l.MaxNameBytes))
	neg("max_attributes_bytes", int64(l.MaxAttributesBytes))
	neg("metadata_update_burst", int64(l.MetadataUpdateBurst))
	neg("signal_queue_bytes", l.SignalQueueBytes)
	if r := l.MetadataUpdatesPerSecond; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		errs = append(errs, fmt.Errorf("limits.metadata_updates_per_second is %v: must be a finite number >= 0 (0 means the default)", r))
	}
	if l.MaxAPIBodyBytes > 0 && l.MaxAPIBodyBytes < minAPIBodyBytes {
		errs = append(errs, fmt.Errorf("limits.max_api_body_bytes is %d: must be at least %d (RoomService requests would fail)", l.MaxAPIBodyBytes, minAPIBodyBytes))
	}
	if l.SignalQueueBytes > 0 && l.SignalQueueBytes < minSignalQueueBytes {
		errs = append(errs, fmt.Errorf("limits.signal_queue_bytes is %d: must be at least %d (a room update would disconnect readers)", l.SignalQueueBytes, minSignalQueueBytes))
	}
	return errors.Join(errs...)
}

// Floors for validate.
const (
	minAPIBodyBytes     = 1 << 10
	minSignalQueueBytes = 64 << 10
)

// withDefaults fills zero fields from DefaultLimits (validate refuses negative ones).
func (l LimitsConfig) withDefaults() LimitsConfig {
	d := DefaultLimits()
	if l.MaxAPIBodyBytes <= 0 {
		l.MaxAPIBodyBytes = d.MaxAPIBodyBytes
	}
	if l.MaxMetadataBytes <= 0 {
		l.MaxMetadataBytes = d.MaxMetadataBytes
	}
	if l.MaxNameBytes <= 0 {
		l.MaxNameBytes = d.MaxNameBytes
	}
	if l.MaxAttributesBytes <= 0 {
		l.MaxAttributesBytes = d.MaxAttributesBytes
	}
	if l.MetadataUpdatesPerSecond <= 0 {
		l.MetadataUpdatesPerSecond = d.MetadataUpdatesPerSecond
	}
	if l.MetadataUpdateBurst <= 0 {
		l.MetadataUpdateBurst = d.MetadataUpdateBurst
	}
	if l.SignalQueueBytes <= 0 {
		l.SignalQueueBytes = d.SignalQueueBytes
	}
	return l
}

// limits is the node's effective limits.
func (s *Server) limits() LimitsConfig { return s.cfg.Limits.withDefaults() }

// checkParticipantUpdate refuses a name, metadata or resulting attribute set over the
// limits. attrs is the participant's attribute set as it would be after the update.
func (l LimitsConfig) checkParticipantUpdate(name, metadata string, attrs map[string]string) error {
	if len(name) > l.MaxNameBytes {
		return fmt.Errorf("name is %d bytes, more than %d", len(name), l.MaxNameBytes)
	}
	if len(metadata) > l.MaxMetadataBytes {
		return fmt.Errorf("metadata is %d bytes, more than %d", len(metadata), l.MaxMetadataBytes)
	}
	if n := attributesSize(attrs); n > l.MaxAttributesBytes {
		return fmt.Errorf("attributes are %d bytes, more than %d", n, l.MaxAttributesBytes)
	}
	return nil
}

// checkRoomMetadata refuses room metadata over the limit.
func (l LimitsConfig) checkRoomMetadata(metadata string) error {
	if len(metadata) > l.MaxMetadataBytes {
		return fmt.Errorf("metadata is %d bytes, more than %d", len(metadata), l.MaxMetadataBytes)
	}
	return nil
}

func attributesSize(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

// mergeAttributes returns cur with upd applied (an empty value deletes the key); cur is not
// modified.
func mergeAttributes(cur, upd map[string]string) map[string]string {
	out := make(map[string]string, len(cur)+len(upd))
	for k, v := range cur {
		out[k] = v
	}
	for k, v := range upd {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func newUpdateLimiter(l LimitsConfig) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(l.MetadataUpdatesPerSecond), l.MetadataUpdateBurst)
}

// errUpdateRate is returned by applyUpdate when a participant changes too often.
var errUpdateRate = errors.New("participant updates too frequent")

// applyUpdate sets a non-empty name and metadata and merges attrs (an empty value deletes
// the key), after checking the update rate and the size limits; on error nothing changes.
// Both paths use it: RoomService.UpdateParticipant and the signal connection's
// UpdateParticipantMetadata (LiveKit SDKs' setAttributes), so both are capped alike.
// It does not announce the change: callers call changed().
func (p *participant) applyUpdate(name, metadata string, attrs map[string]string) error {
	l := p.s.limits()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.updates == nil {
		p.updates = newUpdateLimiter(l)
	}
	// The update itself is checked before it is merged: deletions (empty values) could
	// otherwise make an oversized request look small once applied.
	if n := attributesSize(attrs); n > l.MaxAttributesBytes {
		p.s.metrics.signalErrors.WithLabelValues("update_too_large").Inc()
		return fmt.Errorf("attribute update is %d bytes, more than %d", n, l.MaxAttributesBytes)
	}
	newName, newMeta, newAttrs := p.name, p.metadata, p.attributes
	if name != "" {
		newName = name
	}
	if metadata != "" {
		newMeta = metadata
	}
	if len(attrs) > 0 {
		newAttrs = mergeAttributes(p.attributes, attrs)
	}
	if err := l.checkParticipantUpdate(newName, newMeta, newAttrs); err != nil {
		p.s.metrics.signalErrors.WithLabelValues("update_too_large").Inc()
		return err
	}
	if !p.updates.Allow() {
		p.s.metrics.signalErrors.WithLabelValues("update_rate").Inc()
		return errUpdateRate
	}
	p.name, p.metadata, p.attributes = newName, newMeta, newAttrs
	return nil
}
