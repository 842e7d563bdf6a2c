package vp8

import (
	"bytes"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		p    []byte
		want Descriptor
		ok   bool
	}{
		{"no extension", []byte{0x10, 0x00}, Descriptor{}, true},
		{"7-bit picture id", []byte{0x90, 0x80, 0x25, 0x00}, Descriptor{HasPictureID: true, PictureID: 0x25, picOffset: 2}, true},
		{"15-bit picture id and tl0", []byte{0x90, 0xe0, 0x81, 0x02, 0x33, 0x40, 0x00},
			Descriptor{HasPictureID: true, WidePicture: true, PictureID: 0x102, picOffset: 2, HasTL0PicIdx: true, TL0PicIdx: 0x33, tl0Offset: 4}, true},
		{"tl0 only", []byte{0x90, 0x40, 0x07}, Descriptor{HasTL0PicIdx: true, TL0PicIdx: 7, tl0Offset: 2}, true},
		{"truncated wide picture id", []byte{0x90, 0x80, 0x81}, Descriptor{}, false},
		{"truncated extension", []byte{0x90}, Descriptor{}, false},
		{"empty", nil, Descriptor{}, false},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.p)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("Parse(%s % x) = %+v, %v, want %+v, %v", tt.name, tt.p, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRewrite(t *testing.T) {
	p := []byte{0x90, 0xe0, 0x81, 0x02, 0x33, 0x40, 0xaa}
	d, _ := Parse(p)
	q := bytes.Clone(p)
	d.Rewrite(q, 0x7ffe, 0x01)
	if want := []byte{0x90, 0xe0, 0xff, 0xfe, 0x01, 0x40, 0xaa}; !bytes.Equal(q, want) {
		t.Errorf("Rewrite(0x7ffe, 1) = % x, want % x", q, want)
	}
	if d2, _ := Parse(q); d2.PictureID != 0x7ffe || d2.TL0PicIdx != 1 {
		t.Errorf("re-parsed %+v", d2)
	}
	narrow := []byte{0x90, 0x80, 0x05, 0x00}
	d, _ = Parse(narrow)
	d.Rewrite(narrow, 0x1ff, 0)
	if narrow[2] != 0x7f {
		t.Errorf("7-bit Rewrite(0x1ff) wrote %#x, want 0x7f", narrow[2])
	}
	if d.PictureIDMask() != 0x7f {
		t.Errorf("PictureIDMask = %#x, want 0x7f", d.PictureIDMask())
	}
}
