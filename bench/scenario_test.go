package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPresets(t *testing.T) {
	tests := []struct {
		name       string
		params     PresetParams
		wantGroups []Group
	}{
		{"lecture", PresetParams{}, []Group{
			{Name: "teacher", Count: 1, PublishAudio: true, PublishVideo: true},
			{Name: "students", Count: 10, Subscribe: true}}},
		{"lecture", PresetParams{Subscribers: 300, SubscribeQuality: "low"}, []Group{
			{Name: "teacher", Count: 1, PublishAudio: true, PublishVideo: true},
			{Name: "students", Count: 300, Subscribe: true, SubscribeQuality: "low"}}},
		{"meeting", PresetParams{}, []Group{
			{Name: "members", Count: 10, PublishAudio: true, PublishVideo: true, Subscribe: true}}},
		{"meeting", PresetParams{Publishers: 4, Subscribers: 2}, []Group{
			{Name: "members", Count: 4, PublishAudio: true, PublishVideo: true, Subscribe: true},
			{Name: "listeners", Count: 2, Subscribe: true}}},
		{"audio-room", PresetParams{Publishers: 5, Subscribers: 200}, []Group{
			{Name: "speakers", Count: 5, PublishAudio: true},
			{Name: "listeners", Count: 200, Subscribe: true}}},
	}
	for _, tc := range tests {
		s, err := Preset(tc.name, tc.params)
		if err != nil {
			t.Fatalf("Preset(%q, %+v): %v", tc.name, tc.params, err)
		}
		if len(s.Groups) != len(tc.wantGroups) {
			t.Fatalf("Preset(%q, %+v) groups = %+v, want %+v", tc.name, tc.params, s.Groups, tc.wantGroups)
		}
		for i := range s.Groups {
			if s.Groups[i] != tc.wantGroups[i] {
				t.Errorf("Preset(%q, %+v).Groups[%d] = %+v, want %+v", tc.name, tc.params, i, s.Groups[i], tc.wantGroups[i])
			}
		}
		s.JoinRate = 1000
		if err := s.Validate(); err != nil {
			t.Errorf("Preset(%q, %+v).Validate() = %v, want nil", tc.name, tc.params, err)
		}
	}
	if _, err := Preset("webinar", PresetParams{}); err == nil {
		t.Error(`Preset("webinar") = nil error, want unknown scenario`)
	}
}

func TestValidateRejectsImpossible(t *testing.T) {
	ok := func() Scenario {
		s, _ := Preset("lecture", PresetParams{})
		return s
	}
	tests := []struct {
		name   string
		mutate func(s *Scenario)
		want   string
	}{
		{"no groups", func(s *Scenario) { s.Groups = nil }, "no groups"},
		{"negative count", func(s *Scenario) { s.Groups[1].Count = -3 }, "negative"},
		{"nobody publishes", func(s *Scenario) { s.Groups[0].Count = 0 }, "nothing to measure"},
		{"nobody subscribes", func(s *Scenario) { s.Groups[1].Subscribe = false; s.Groups[1].PublishAudio = true }, "nothing to measure"},
		{"idle group", func(s *Scenario) { s.Groups[1].Subscribe = false }, "neither publishes nor subscribes"},
		{"ramp longer than run", func(s *Scenario) { s.Groups[1].Count = 1000; s.JoinRate = 10 }, "takes 1m40s"},
		{"zero join rate", func(s *Scenario) { s.JoinRate = 0 }, "join_rate"},
		{"too short", func(s *Scenario) { s.Duration = time.Millisecond }, "duration"},
		{"bad quality", func(s *Scenario) { s.Groups[1].SubscribeQuality = "ultra" }, "subscribe_quality"},
		{"bad codec", func(s *Scenario) { s.Video.Codec = "theora" }, "codec"},
		{"bad fps", func(s *Scenario) { s.Video.FPS = 1000 }, "fps"},
		{"too many", func(s *Scenario) { s.Groups[1].Count = MaxParticipants; s.JoinRate = 1000; s.Duration = time.Hour }, "participants in total"},
		{"duplicate names", func(s *Scenario) { s.Groups[1].Name = "teacher" }, "duplicate"},
		{"audio bitrate", func(s *Scenario) { s.Audio.Bitrate = 1 }, "audio bitrate"},
	}
	for _, tc := range tests {
		s := ok()
		tc.mutate(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadScenario(t *testing.T) {
	s, err := LoadScenario("scenarios/classroom.yaml", nil)
	if err != nil {
		t.Fatalf("LoadScenario(sample): %v", err)
	}
	if s.Name != "classroom" || s.Participants() != 43 || !s.Video.Simulcast || s.Duration != 30*time.Second {
		t.Errorf("LoadScenario(sample) = %+v", s)
	}
	env := map[string]string{"ATRIUM_BENCH_DURATION": "45s", "ATRIUM_BENCH_VIDEO_CODEC": "h264"}
	s, err = LoadScenario("scenarios/classroom.yaml", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil || s.Duration != 45*time.Second || s.Video.Codec != "h264" {
		t.Errorf("LoadScenario with env = %+v, %v; want duration 45s, codec h264", s, err)
	}

	dir := t.TempDir()
	bad := []struct{ name, yaml, want string }{
		{"unknown key", "name: x\ngroups:\n  - name: a\n    count: 1\n    publish_audio: true\n    subscribers: 3\n", "field subscribers not found"},
		{"wrong type", "name: x\nduration: soon\n", "time.Duration"},
		{"impossible", "name: x\ngroups:\n  - name: a\n    count: 5\n    subscribe: true\n", "nothing to measure"},
	}
	for _, tc := range bad {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
		if err := os.WriteFile(p, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadScenario(p, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: LoadScenario = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := LoadScenario(filepath.Join(dir, "missing.yaml"), nil); err == nil {
		t.Error("LoadScenario(missing file) = nil error")
	}
}

func TestLayers(t *testing.T) {
	v := DefaultScenario().Video
	if l := v.Layers(); len(l) != 1 || l[0].Width != 1280 || l[0].Bitrate != 1_500_000 {
		t.Errorf("Layers() without simulcast = %+v", l)
	}
	v.Simulcast = true
	l := v.Layers()
	if len(l) != 3 || l[0].Width != 320 || l[1].Width != 640 || l[2].Width != 1280 ||
		l[0].Bitrate != 150_000 || l[1].Bitrate != 450_000 {
		t.Errorf("Layers() with simulcast = %+v", l)
	}
}
