package signature

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestDecodeCBOR: the items COSE needs decode; malformed, truncated,
// indefinite and hostile input is an error, never a panic or a hang.
func TestDecodeCBOR(t *testing.T) {
	ok := []struct {
		in   []byte
		want string
	}{
		{[]byte{0x18, 0x2a}, "42"},
		{[]byte{0x26}, "-7"},
		{[]byte{0x43, 1, 2, 3}, "[1 2 3]"},
		{[]byte{0x62, 'h', 'i'}, "hi"},
		{[]byte{0x82, 0x01, 0x61, 'a'}, "[1 a]"},
		{[]byte{0xa1, 0x01, 0x26}, "map[1:-7]"},
		{[]byte{0xc1, 0x1a, 0x65, 0x53, 0xf1, 0x00}, "{1 1700000000}"},
		{[]byte{0xf5}, "true"},
	}
	for _, c := range ok {
		v, err := decodeCBOR(c.in)
		if err != nil {
			t.Errorf("% x: %v", c.in, err)
			continue
		}
		if got := strings.TrimSpace(sprint(v)); got != c.want {
			t.Errorf("% x = %s, want %s", c.in, got, c.want)
		}
	}
	deep := bytes.Repeat([]byte{0x81}, 100)
	bad := [][]byte{
		{}, {0x18}, {0x43, 1}, {0x9f, 0xff}, {0x5f}, {0x84, 1}, {0xa1, 0x01}, {0xa2, 0x01, 0x01, 0x01, 0x02},
		{0xa1, 0x41, 0x00, 0x01}, {0x01, 0x02}, {0xfb, 0, 0, 0, 0, 0, 0, 0, 0}, append(deep, 0x01),
		{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	}
	for _, in := range bad {
		if v, err := decodeCBOR(in); err == nil {
			t.Errorf("% x decoded to %v", in, v)
		}
	}
}

func sprint(v any) string {
	var b strings.Builder
	switch x := v.(type) {
	case []byte:
		b.WriteString("[")
		for i, c := range x {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(itoa(int(c)))
		}
		b.WriteString("]")
	case []any:
		b.WriteString("[")
		for i, e := range x {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(sprint(e))
		}
		b.WriteString("]")
	default:
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(fmtAny(x)), "signature.cborTag", ""))
	}
	return b.String()
}

func itoa(n int) string { return fmtAny(n) }

func fmtAny(v any) string { return fmt.Sprint(v) }

// FuzzDecodeCBOR: no input panics or runs away.
func FuzzDecodeCBOR(f *testing.F) {
	for _, s := range [][]byte{{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40}, {0xa1, 0x18, 0x21, 0x81, 0x41, 0x00}, {0x9b, 0xff, 0xff}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeCBOR(b)
		_, _ = parseCOSE(b)
	})
}
