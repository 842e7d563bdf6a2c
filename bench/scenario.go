// Package bench is the load tester behind `atrium bench`: it joins many virtual
// participants (built on LiveKit's Go SDK, so the workload is what a real SDK sends) to any
// LiveKit-compatible server, publishes synthetic camera and microphone media (bench/synth)
// and measures, on the receiving side, join times, exact loss, one-way latency and jitter,
// while sampling the server's CPU and memory (bench/procstat).
//
// Run executes one Scenario against one Target and returns a Result; Compare runs the same
// scenario against two servers alternately. Nothing here imports a service package.
package bench

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/atrium-live/atrium/bench/synth"
	"github.com/atrium-live/atrium/pkg/config"
)

// Scenario is a workload: groups of identical participants joining one room.
type Scenario struct {
	Name     string        `yaml:"name"`
	Room     string        `yaml:"room"`      // empty: a fresh random name per run
	Duration time.Duration `yaml:"duration"`  // from the first join to the end of the run
	JoinRate float64       `yaml:"join_rate"` // participants joining per second
	Video    VideoSpec     `yaml:"video"`
	Audio    AudioSpec     `yaml:"audio"`
	Groups   []Group       `yaml:"groups"`
}

// VideoSpec is the camera every video publisher simulates.
type VideoSpec struct {
	Codec            string        `yaml:"codec"`   // vp8 or h264
	Bitrate          int           `yaml:"bitrate"` // b/s of the top layer
	FPS              int           `yaml:"fps"`
	Width            int           `yaml:"width"`
	Height           int           `yaml:"height"`
	KeyframeInterval time.Duration `yaml:"keyframe_interval"`
	// Simulcast publishes three layers: full (Bitrate, Width x Height), half (30% of the
	// bitrate, half size) and quarter (10%, quarter size).
	Simulcast bool `yaml:"simulcast"`
}

// AudioSpec is the microphone every audio publisher simulates (Opus, 20 ms packets).
type AudioSpec struct {
	Bitrate int `yaml:"bitrate"` // b/s
}

// Group is Count participants that behave alike.
type Group struct {
	Name         string `yaml:"name"`
	Count        int    `yaml:"count"`
	PublishAudio bool   `yaml:"publish_audio"`
	PublishVideo bool   `yaml:"publish_video"`
	Subscribe    bool   `yaml:"subscribe"` // subscribe to every track published in the room
	// SubscribeQuality is the simulcast layer asked for: low, medium or high (default).
	SubscribeQuality string `yaml:"subscribe_quality"`
	// Direct participants join the room's owner node directly instead of Target.URL (a
	// cluster gateway): the owner is the node the first participant through the target
	// landed on, resolved to its URL by Options.OwnerURL. Their join times are reported
	// apart (Result.Paths), which measures what the proxied signal path adds. Subscribing
	// groups only: a publisher must create the room through the target.
	Direct bool `yaml:"direct"`
}

// Limits that keep a scenario within what one tester process can drive.
const (
	MaxParticipants = 5000
	MaxDuration     = 24 * time.Hour
)

// DefaultScenario returns the defaults every scenario starts from (no groups).
func DefaultScenario() Scenario {
	return Scenario{
		Name:     "custom",
		Duration: 30 * time.Second,
		JoinRate: 20,
		Video: VideoSpec{Codec: "vp8", Bitrate: 1_500_000, FPS: 30, Width: 1280, Height: 720,
			KeyframeInterval: 2 * time.Second},
		Audio: AudioSpec{Bitrate: 32_000},
	}
}

// PresetParams are the knobs of the built-in scenarios; zero means the preset's default.
type PresetParams struct {
	Publishers       int
	Subscribers      int
	SubscribeQuality string
}

// Presets lists the built-in scenario names.
var Presets = []string{"lecture", "meeting", "audio-room"}

// Preset returns a built-in scenario, on top of DefaultScenario:
//   - lecture: Publishers teachers (default 1) with video and audio -> Subscribers students (default 10);
//   - meeting: Publishers participants (default 10) each publishing and subscribing to all,
//     plus Subscribers silent listeners (default 0);
//   - audio-room: Publishers speakers (default 5, audio only) -> Subscribers listeners (default 50).
func Preset(name string, p PresetParams) (Scenario, error) {
	s := DefaultScenario()
	s.Name = name
	def := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	q := p.SubscribeQuality
	switch name {
	case "lecture":
		s.Groups = []Group{
			{Name: "teacher", Count: def(p.Publishers, 1), PublishAudio: true, PublishVideo: true},
			{Name: "students", Count: def(p.Subscribers, 10), Subscribe: true, SubscribeQuality: q},
		}
	case "meeting":
		s.Groups = []Group{{Name: "members", Count: def(p.Publishers, 10), PublishAudio: true,
			PublishVideo: true, Subscribe: true, SubscribeQuality: q}}
		if p.Subscribers > 0 {
			s.Groups = append(s.Groups, Group{Name: "listeners", Count: p.Subscribers, Subscribe: true,
				SubscribeQuality: q})
		}
	case "audio-room":
		s.Groups = []Group{
			{Name: "speakers", Count: def(p.Publishers, 5), PublishAudio: true},
			{Name: "listeners", Count: def(p.Subscribers, 50), Subscribe: true},
		}
	default:
		return Scenario{}, fmt.Errorf("bench: unknown scenario %q (want one of %s, or a YAML file)",
			name, strings.Join(Presets, ", "))
	}
	return s, nil
}

// LoadScenario reads a scenario file: DefaultScenario, then the YAML at path (unknown keys
// are errors), then ATRIUM_BENCH_* variables from lookup (nil: none), then Validate.
func LoadScenario(path string, lookup func(string) (string, bool)) (Scenario, error) {
	if _, err := os.Stat(path); err != nil {
		return Scenario{}, fmt.Errorf("bench: scenario file: %w", err)
	}
	s := DefaultScenario()
	if err := config.Load(&s, path, "ATRIUM_BENCH", lookup); err != nil {
		return Scenario{}, fmt.Errorf("bench: scenario %s: %w", path, err)
	}
	return s, nil
}

// Participants is the total number of participants.
func (s *Scenario) Participants() int {
	n := 0
	for _, g := range s.Groups {
		n += g.Count
	}
	return n
}

// Validate rejects scenarios that cannot run or would measure nothing.
func (s *Scenario) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s.Name == "" {
		bad("name is empty")
	}
	if s.Duration < time.Second || s.Duration > MaxDuration {
		bad("duration %v out of range [1s, %v]", s.Duration, MaxDuration)
	}
	if s.JoinRate <= 0 || s.JoinRate > 1000 {
		bad("join_rate %v out of range (0, 1000] per second", s.JoinRate)
	}
	if len(s.Groups) == 0 {
		bad("no groups: nobody would join")
	}
	names := map[string]bool{}
	var audio, video, subscribers bool
	for i, g := range s.Groups {
		switch {
		case g.Name == "":
			bad("groups[%d]: name is empty", i)
		case names[g.Name]:
			bad("groups[%d]: duplicate name %q", i, g.Name)
		}
		names[g.Name] = true
		if g.Count < 0 {
			bad("group %q: count %d is negative", g.Name, g.Count)
		}
		switch g.SubscribeQuality {
		case "", "low", "medium", "high":
		default:
			bad("group %q: subscribe_quality %q: want low, medium or high", g.Name, g.SubscribeQuality)
		}
		if !g.PublishAudio && !g.PublishVideo && !g.Subscribe {
			bad("group %q neither publishes nor subscribes", g.Name)
		}
		if g.Direct && (g.PublishAudio || g.PublishVideo) {
			bad("group %q: direct groups may only subscribe (publishers create the room through the target)", g.Name)
		}
		if g.Count > 0 {
			audio = audio || g.PublishAudio
			video = video || g.PublishVideo
			subscribers = subscribers || g.Subscribe
		}
	}
	n := s.Participants()
	if len(s.Groups) > 0 && (n < 1 || n > MaxParticipants) {
		bad("%d participants in total, want 1..%d", n, MaxParticipants)
	}
	if len(s.Groups) > 0 && (!audio && !video || !subscribers) {
		bad("nothing to measure: the scenario needs at least one publisher and one subscriber")
	}
	if s.JoinRate > 0 && n > 0 {
		if ramp := time.Duration(float64(n) / s.JoinRate * float64(time.Second)); ramp >= s.Duration {
			bad("joining %d participants at %g/s takes %v, not less than duration %v", n, s.JoinRate,
				ramp.Round(time.Second), s.Duration)
		}
	}
	if video {
		for _, l := range s.Video.Layers() {
			if _, err := synth.NewVideo(l); err != nil {
				bad("video: %w", err)
				break
			}
		}
	}
	if audio && (s.Audio.Bitrate < 6000 || s.Audio.Bitrate > 510_000) {
		bad("audio bitrate %d out of Opus range [6000, 510000]", s.Audio.Bitrate)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	return nil
}

// Layers returns the encoder parameters of each published layer, lowest first.
func (v VideoSpec) Layers() []synth.VideoParams {
	top := synth.VideoParams{Codec: v.Codec, Bitrate: v.Bitrate, FPS: v.FPS, Width: v.Width,
		Height: v.Height, KeyframeInterval: v.KeyframeInterval}
	if !v.Simulcast {
		return []synth.VideoParams{top}
	}
	q, h := top, top
	q.Bitrate, q.Width, q.Height = v.Bitrate/10, v.Width/4, v.Height/4
	h.Bitrate, h.Width, h.Height = v.Bitrate*3/10, v.Width/2, v.Height/2
	return []synth.VideoParams{q, h, top}
}
