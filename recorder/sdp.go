package recorder

import (
	"fmt"
	"strings"
)

// Payload types the recorder writes into the RTP it forwards to ffmpeg; the SDP it hands
// ffmpeg declares the same ones, whatever the SFU negotiated.
const (
	videoPT = 96
	audioPT = 111
)

// muxInput describes what one ffmpeg run receives over loopback RTP.
type muxInput struct {
	VideoPort int    // 0: no video
	VideoMime string // "video/H264", "video/VP8"
	// AudioPorts are the mixer's inputs (see audiomix.go); none: no audio.
	AudioPorts []int
}

// buildSDP returns the session description ffmpeg reads to receive the forwarded RTP
// (RFC 8866). Each stream has its own port; ffmpeg also binds port+1 for RTCP.
func buildSDP(in muxInput) (string, error) {
	if in.VideoPort == 0 && len(in.AudioPorts) == 0 {
		return "", fmt.Errorf("sdp: nothing to receive")
	}
	var b strings.Builder
	b.WriteString("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=atrium-recorder\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n")
	if in.VideoPort != 0 {
		switch strings.ToLower(in.VideoMime) {
		case "video/h264":
			fmt.Fprintf(&b, "m=video %d RTP/AVP %d\r\na=rtpmap:%d H264/90000\r\na=fmtp:%d packetization-mode=1\r\n",
				in.VideoPort, videoPT, videoPT, videoPT)
		case "video/vp8":
			fmt.Fprintf(&b, "m=video %d RTP/AVP %d\r\na=rtpmap:%d VP8/90000\r\n", in.VideoPort, videoPT, videoPT)
		case "video/vp9":
			fmt.Fprintf(&b, "m=video %d RTP/AVP %d\r\na=rtpmap:%d VP9/90000\r\n", in.VideoPort, videoPT, videoPT)
		default:
			return "", fmt.Errorf("sdp: cannot record video codec %q", in.VideoMime)
		}
	}
	for _, p := range in.AudioPorts {
		fmt.Fprintf(&b, "m=audio %d RTP/AVP %d\r\na=rtpmap:%d opus/48000/2\r\n", p, audioPT, audioPT)
	}
	return b.String(), nil
}

// needsTranscode reports whether the video must be re-encoded to H.264 (fMP4 HLS that Apple
// players and hls.js play carries H.264; VP8 and VP9 are transcoded at a CPU cost).
func needsTranscode(mime string) bool { return !strings.EqualFold(mime, "video/h264") }

// ffmpegArgs builds the command line of one muxer run. Video is copied when it is H.264
// and encoded with libx264 (veryfast, zerolatency) otherwise; Opus becomes AAC. Segments are
// named seg_<N>.m4s from startNumber, the init segment init_<epoch>.mp4.
func ffmpegArgs(sdpPath, dir string, in muxInput, segSeconds float64, startNumber, epoch int) []string {
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "warning",
		"-protocol_whitelist", "file,udp,rtp",
		// Probe little: the SDP declares the streams; H.264 parameters arrive in band.
		"-analyzeduration", "3000000", "-probesize", "2000000",
		"-reorder_queue_size", "256",
		"-fflags", "+genpts+discardcorrupt",
		"-i", sdpPath}
	if in.VideoPort != 0 {
		args = append(args, "-map", "0:v:0")
		if needsTranscode(in.VideoMime) {
			// -r 30: a constant 30 fps output, resampled from the RTP timestamps. Without it
			// ffmpeg takes the frame rate its probe guessed, which for VP8 over RTP was at times
			// the 90 kHz clock rate: "More than 100000 frames duplicated", no segment in 60 s
			// (TestRecordingFromClassroomInBrowser under load). -g matches it: a keyframe a segment.
			args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
				"-r", "30", "-g", fmt.Sprint(int(segSeconds*30)), "-pix_fmt", "yuv420p")
		} else {
			args = append(args, "-c:v", "copy")
		}
	}
	switch n := len(in.AudioPorts); {
	case n == 1:
		args = append(args, "-map", "0:a:0")
	case n > 1:
		// normalize=0: a lone speaker keeps their level instead of being divided by n.
		var f strings.Builder
		for i := range n {
			fmt.Fprintf(&f, "[0:a:%d]", i)
		}
		fmt.Fprintf(&f, "amix=inputs=%d:duration=longest:dropout_transition=0:normalize=0[mix]", n)
		args = append(args, "-filter_complex", f.String(), "-map", "[mix]")
	}
	if len(in.AudioPorts) > 0 {
		args = append(args, "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-ar", "48000")
	}
	args = append(args,
		"-f", "hls",
		"-hls_time", fmt.Sprintf("%g", segSeconds),
		"-hls_segment_type", "fmp4",
		"-hls_fmp4_init_filename", fmt.Sprintf("init_%d.mp4", epoch),
		"-hls_segment_filename", dir+"/seg_%05d.m4s",
		"-start_number", fmt.Sprint(startNumber),
		"-hls_list_size", "0",
		"-hls_playlist_type", "event",
		"-hls_flags", "temp_file+independent_segments",
		dir+"/local.m3u8")
	return args
}
