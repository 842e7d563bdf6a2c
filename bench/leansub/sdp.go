package leansub

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// section is one m= section of an offer, as far as an answer needs it.
type section struct {
	kind      string // audio, video, application
	fmts      []string
	mid       string
	direction string   // sendonly, sendrecv, recvonly, inactive
	attrs     []string // rtpmap, fmtp, rtcp-fb, extmap lines kept in the answer
	ssrc      uint32
	trackID   string // from msid
	rejected  bool   // port 0
}

// parseOffer splits an SDP offer into its m= sections; session-level ICE credentials
// apply to every section.
func parseOffer(raw string) ([]section, string, string, []string) {
	var (
		secs       []section
		ufrag, pwd string
		cands      []string
		cur        *section
	)
	for _, line := range strings.Split(strings.ReplaceAll(raw, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "m="); ok {
			f := strings.Fields(v)
			secs = append(secs, section{direction: "sendrecv"})
			cur = &secs[len(secs)-1]
			if len(f) >= 3 {
				cur.kind, cur.rejected, cur.fmts = f[0], f[1] == "0", f[3:]
			}
			continue
		}
		a, ok := strings.CutPrefix(line, "a=")
		if !ok {
			continue
		}
		name, val, _ := strings.Cut(a, ":")
		switch name {
		case "ice-ufrag":
			ufrag = val
		case "ice-pwd":
			pwd = val
		case "candidate":
			cands = append(cands, "candidate:"+val)
		}
		if cur == nil {
			continue
		}
		switch name {
		case "mid":
			cur.mid = val
		case "sendonly", "sendrecv", "recvonly", "inactive":
			cur.direction = name
		case "rtpmap", "fmtp", "rtcp-fb", "extmap":
			cur.attrs = append(cur.attrs, a)
		case "msid":
			if f := strings.Fields(val); len(f) == 2 && cur.trackID == "" {
				cur.trackID = f[1]
			}
		case "ssrc":
			id, rest, _ := strings.Cut(val, " ")
			if n, err := strconv.ParseUint(id, 10, 32); err == nil && cur.ssrc == 0 {
				cur.ssrc = uint32(n)
			}
			if v, ok := strings.CutPrefix(rest, "msid:"); ok {
				if f := strings.Fields(v); len(f) == 2 && cur.trackID == "" {
					cur.trackID = f[1]
				}
			}
		}
	}
	return secs, ufrag, pwd, cands
}

// buildAnswer answers secs: media sections are received (recvonly) with every offered
// codec, extension and feedback type; data channels are declined.
func buildAnswer(secs []section, ufrag, pwd, fingerprint string) string {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n")
	var bundle []string
	for _, s := range secs {
		if !s.rejected && s.kind != "application" {
			bundle = append(bundle, s.mid)
		}
	}
	if len(bundle) > 0 {
		fmt.Fprintf(&b, "a=group:BUNDLE %s\r\n", strings.Join(bundle, " "))
	}
	// Session-level credentials too: an offer of data channels only is answered with no
	// accepted section, and the server still needs them.
	fmt.Fprintf(&b, "a=msid-semantic: WMS\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\na=setup:active\r\n",
		ufrag, pwd, fingerprint)
	for _, s := range secs {
		if s.rejected || s.kind == "application" {
			proto := "UDP/TLS/RTP/SAVPF"
			if s.kind == "application" {
				proto = "UDP/DTLS/SCTP"
			}
			fmt.Fprintf(&b, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\na=mid:%s\r\n", s.kind, proto, strings.Join(s.fmts, " "), s.mid)
			continue
		}
		dir := "recvonly"
		if s.direction == "inactive" || s.direction == "recvonly" {
			dir = "inactive"
		}
		fmt.Fprintf(&b, "m=%s 9 UDP/TLS/RTP/SAVPF %s\r\nc=IN IP4 0.0.0.0\r\n", s.kind, strings.Join(s.fmts, " "))
		fmt.Fprintf(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\na=setup:active\r\n", ufrag, pwd, fingerprint)
		fmt.Fprintf(&b, "a=mid:%s\r\na=%s\r\na=rtcp-mux\r\n", s.mid, dir)
		for _, a := range s.attrs {
			fmt.Fprintf(&b, "a=%s\r\n", a)
		}
	}
	return b.String()
}

// firstMid is the mid of the first m= section of an SDP.
func firstMid(raw string) string {
	secs, _, _, _ := parseOffer(raw)
	if len(secs) == 0 {
		return "0"
	}
	return secs[0].mid
}

// parseCandidate reads the address of a UDP host candidate from a trickled candidate
// (JSON RTCIceCandidateInit) or a bare "candidate:..." line.
func parseCandidate(init string) (netip.AddrPort, bool) {
	line := init
	var ci struct {
		Candidate string `json:"candidate"`
	}
	if strings.HasPrefix(strings.TrimSpace(init), "{") {
		if err := json.Unmarshal([]byte(init), &ci); err != nil {
			return netip.AddrPort{}, false
		}
		line = ci.Candidate
	}
	f := strings.Fields(strings.TrimPrefix(line, "a="))
	// candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
	if len(f) < 8 || !strings.EqualFold(f[2], "udp") || f[1] != "1" || f[7] != "host" {
		return netip.AddrPort{}, false
	}
	ip, err := netip.ParseAddr(f[4])
	if err != nil {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(f[5], 10, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
}
