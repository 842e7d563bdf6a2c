package keyframe

import "testing"

// FuzzDetectors feeds garbage to every detector: they must never panic
// (publishers are untrusted).
func FuzzDetectors(f *testing.F) {
	for _, seed := range [][]byte{
		nil, {0x10}, {0x90, 0xff}, {0x78, 0x00}, {0x78, 0xff, 0xff, 0x67}, {0x7c, 0x85}, {0xa0}, {0x08},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		VP8(p)
		VP9(p)
		H264(p)
		AV1(p)
	})
}
