package recorder

import (
	"bufio"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Segment is one uploaded media segment of a recording's playlist.
type Segment struct {
	// Seq is the segment's number, continuous across recorders: a recorder that takes a
	// recording over continues after the last number its predecessor uploaded.
	Seq int `json:"seq"`
	// URI is the object name relative to the playlist ("seg_00042.m4s").
	URI string `json:"uri"`
	// Init is the fMP4 initialization segment (EXT-X-MAP) the segment belongs to; each
	// ffmpeg run (each "epoch") has its own.
	Init string `json:"init"`
	// Duration in seconds, as ffmpeg measured it.
	Duration float64 `json:"duration"`
	// Discontinuity marks the first segment after a gap (a recorder taken over, or a
	// restarted muxer): timestamps and the init segment may change here.
	Discontinuity bool `json:"discontinuity,omitempty"`
	// Bytes is the segment's size.
	Bytes int64 `json:"bytes"`
}

// Playlist content types and object names.
const (
	PlaylistName        = "index.m3u8"
	PlaylistContentType = "application/vnd.apple.mpegurl"
	SegmentContentType  = "video/iso.segment" // RFC 8216 §3.3 fMP4 media segment
	InitContentType     = "video/mp4"
)

// RenderPlaylist writes an HLS media playlist (RFC 8216, version 7 for fMP4) for segs. While
// recording (final false) it is an EVENT playlist that players reload; final adds
// EXT-X-ENDLIST, which turns the same playlist into a VOD one. A change of init segment or a
// Discontinuity flag emits EXT-X-DISCONTINUITY (§4.3.2.3) and a new EXT-X-MAP.
func RenderPlaylist(segs []Segment, final bool) []byte {
	target := 1
	for _, s := range segs {
		// §4.3.3.1: EXTINF rounded to the nearest integer must not exceed the target.
		if d := int(math.Round(s.Duration)); d > target {
			target = d
		}
	}
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n")
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", target)
	first := 0
	if len(segs) > 0 {
		first = segs[0].Seq
	}
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", first)
	b.WriteString("#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	init := ""
	for i, s := range segs {
		if i > 0 && (s.Discontinuity || s.Init != init) {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		if s.Init != init {
			fmt.Fprintf(&b, "#EXT-X-MAP:URI=%q\n", s.Init)
			init = s.Init
		}
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s\n", s.Duration, s.URI)
	}
	if final {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return []byte(b.String())
}

// localEntry is one segment of the playlist ffmpeg writes locally.
type localEntry struct {
	URI      string
	Duration float64
}

// parseLocalPlaylist reads the segments listed in the playlist ffmpeg's HLS muxer writes
// (the recorder renders its own playlist for S3; ffmpeg's only says which segments are
// complete). init is the EXT-X-MAP URI, ended reports EXT-X-ENDLIST.
func parseLocalPlaylist(raw []byte) (entries []localEntry, init string, ended bool, err error) {
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	pending := -1.0
	first := true
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case first:
			if line != "#EXTM3U" {
				return nil, "", false, fmt.Errorf("playlist: first line %q, want #EXTM3U", line)
			}
		case strings.HasPrefix(line, "#EXTINF:"):
			v := strings.TrimPrefix(line, "#EXTINF:")
			v, _, _ = strings.Cut(v, ",")
			d, perr := strconv.ParseFloat(v, 64)
			if perr != nil || d < 0 {
				return nil, "", false, fmt.Errorf("playlist: bad EXTINF %q", line)
			}
			pending = d
		case strings.HasPrefix(line, "#EXT-X-MAP:"):
			_, after, ok := strings.Cut(line, `URI="`)
			if !ok {
				return nil, "", false, fmt.Errorf("playlist: bad EXT-X-MAP %q", line)
			}
			init, _, _ = strings.Cut(after, `"`)
		case line == "#EXT-X-ENDLIST":
			ended = true
		case strings.HasPrefix(line, "#"):
			// Other tags say nothing about which segments are complete.
		default:
			if pending < 0 {
				return nil, "", false, fmt.Errorf("playlist: segment %q without EXTINF", line)
			}
			entries = append(entries, localEntry{URI: line, Duration: pending})
			pending = -1
		}
		first = false
	}
	if first {
		return nil, "", false, fmt.Errorf("playlist: empty")
	}
	return entries, init, ended, sc.Err()
}

// segmentSeq extracts N from "seg_<N>.m4s", the names the recorder tells ffmpeg to use.
func segmentSeq(uri string) (int, bool) {
	s, ok := strings.CutPrefix(uri, "seg_")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".m4s")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
