package vp9

import "testing"

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name string
		p    []byte
		ok   bool
		want Descriptor
		key  bool
	}{
		{"empty", nil, false, Descriptor{}, false},
		{"no optional fields, start of an intra frame", []byte{0x0c, 0xaa}, true,
			Descriptor{Start: true, End: true}, true},
		{"7-bit picture id", []byte{0x80 | 0x48, 0x05}, true,
			Descriptor{Predicted: true, Start: true, HasPictureID: true, PictureID: 5}, false},
		{"15-bit picture id, truncated", []byte{0x80, 0x81}, false, Descriptor{}, false},
		{"keyframe S0 T0 non-flexible", []byte{0x80 | 0x20 | 0x08 | 0x02, 0x81, 0x02, 0x00, 0x07}, true,
			Descriptor{HasLayers: true, Start: true, HasSS: true, HasPictureID: true, PictureID: 0x102, HasTL0PicIdx: true, TL0PicIdx: 7}, true},
		{"keyframe S2 with inter-layer dependency is not where a decoder starts", []byte{0x80 | 0x20 | 0x08 | 0x04 | 0x01, 0x81, 0x02, 0x05, 0x07}, true,
			Descriptor{HasLayers: true, Start: true, End: true, NotRefUp: true, HasPictureID: true, PictureID: 0x102, Spatial: 2, InterDep: true, HasTL0PicIdx: true, TL0PicIdx: 7}, false},
		{"delta T2 S1 switching point", []byte{0x80 | 0x40 | 0x20 | 0x04, 0x0a, 0x40 | 0x10 | 0x02, 0x09}, true,
			Descriptor{Predicted: true, HasLayers: true, End: true, HasPictureID: true, PictureID: 10, Temporal: 2, SwitchUp: true, Spatial: 1, HasTL0PicIdx: true, TL0PicIdx: 9}, false},
		{"flexible mode has no TL0PICIDX", []byte{0x80 | 0x40 | 0x20 | 0x10 | 0x08, 0x0a, 0x22, 0x03}, true,
			Descriptor{Predicted: true, HasLayers: true, Flexible: true, Start: true, HasPictureID: true, PictureID: 10, Temporal: 1, Spatial: 1}, false},
		{"layer byte missing", []byte{0x20}, false, Descriptor{}, false},
		{"TL0PICIDX missing", []byte{0x28, 0x00}, false, Descriptor{}, false},
	} {
		got, ok := Parse(c.p)
		if ok != c.ok {
			t.Errorf("%s: Parse(%x) ok = %t, want %t", c.name, c.p, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if got != c.want {
			t.Errorf("%s: Parse(%x) = %+v, want %+v", c.name, c.p, got, c.want)
		}
		if got.Keyframe() != c.key {
			t.Errorf("%s: Keyframe() = %t, want %t", c.name, got.Keyframe(), c.key)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{0xaa, 0x81, 0x02, 0x05, 0x07})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, p []byte) {
		d, ok := Parse(p) // must not panic
		if ok && d.HasLayers && (d.Spatial > 7 || d.Temporal > 7) {
			t.Fatalf("Parse(%x) = layer ids %d/%d out of their 3 bits", p, d.Spatial, d.Temporal)
		}
	})
}
