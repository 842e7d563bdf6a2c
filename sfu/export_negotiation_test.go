package sfu

// SubscriberSendersForTest counts the senders attached to a participant's subscriber
// PeerConnection: one per track the server is sending it or is about to stop sending it.
// Tests use it to see when a removal reaches pion.
func SubscriberSendersForTest(s *Server, room, identity string) (int, error) {
	p, err := s.findParticipant(room, identity)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, tr := range p.sub.pc.GetTransceivers() {
		if tr.Sender() != nil {
			n++
		}
	}
	return n, nil
}

// DownTracksForTest counts the DownTracks subscribed to the receiver of a published track.
func DownTracksForTest(s *Server, room, publisher, trackSID string) (int, error) {
	p, err := s.findParticipant(room, publisher)
	if err != nil {
		return 0, err
	}
	t := p.publishedTrack(trackSID)
	if t == nil {
		return 0, ErrNotFound
	}
	return len(t.recv.DownTracks()), nil
}
