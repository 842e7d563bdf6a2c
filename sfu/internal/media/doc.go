// Package media is the SFU media path: everything an RTP packet touches
// between a publisher's PeerConnection and each subscriber's. A Receiver per
// published track buffers each simulcast layer once (package buffer) and fans
// packets out to DownTracks, one per subscriber, each of which asks its pure
// Forwarder (package forwarder) what to send and rewrites the packet for its
// subscriber. An Allocator per subscriber picks simulcast layers within the
// subscriber's estimated bandwidth.
//
// The package does no signalling and owns no PeerConnection; the session
// layer (package sfu) creates PeerConnections with ConfigureMediaEngine and
// ConfigureInterceptors, feeds each publisher track to Receiver.ReadFrom, and
// adds each DownTrack to a subscriber PeerConnection. See
// docs/sfu-internals.md for the seam.
//
// The per-packet path (WriteRTP -> buffer -> every DownTrack write) allocates
// nothing in steady state, starts no goroutine and holds no lock across a
// network write.
package media
