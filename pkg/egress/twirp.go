package egress

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/atrium-live/atrium/pkg/access"
)

// PathPrefix is where the handler is mounted: LiveKit's Egress Twirp service.
const PathPrefix = "/twirp/livekit.Egress/"

// Params configure the Twirp handler.
type Params struct {
	Store *Store
	// Keys verify callers' tokens; a call needs the roomRecord grant, as with LiveKit.
	Keys access.Keys
	// Bucket is the bucket the recorders store into; a request naming another bucket is
	// refused (recorders hold one set of storage credentials).
	Bucket string
	Logger *slog.Logger
}

// NewHandler serves StartRoomCompositeEgress and StartTrackCompositeEgress with one
// segmented (HLS) output, ListEgress and StopEgress, so server-sdk-go's EgressClient works
// against Atrium. Every other method answers Unimplemented. Mount it at PathPrefix.
func NewHandler(p Params) http.Handler {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	ts := livekit.NewEgressServer(&service{p: p})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		grants, err := access.Verify(access.TokenFromRequest(r), p.Keys)
		if err != nil {
			_ = twirp.WriteError(w, twirp.NewError(twirp.Unauthenticated, err.Error()))
			return
		}
		if grants.Video == nil || !grants.Video.RoomRecord {
			_ = twirp.WriteError(w, twirp.NewError(twirp.PermissionDenied, "egress needs the roomRecord grant"))
			return
		}
		ts.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), grantRoomKey{}, grants.Video.Room)))
	})
}

type service struct{ p Params }

// grantRoomKey carries the room the caller's grant names ("" for any room) to the methods.
type grantRoomKey struct{}

// checkRoom refuses a request about room when the caller's grant names another room: a
// token minted for one class's recording must not start, list or stop another's. A grant
// naming no room covers every room, as LiveKit's server-side EgressClient tokens do.
func checkRoom(ctx context.Context, room string) error {
	granted, _ := ctx.Value(grantRoomKey{}).(string)
	return roomAllowed(granted, room)
}

// roomAllowed is the rule behind checkRoom.
func roomAllowed(granted, room string) error {
	if granted == "" || granted == room {
		return nil
	}
	return twirp.NewError(twirp.PermissionDenied,
		fmt.Sprintf("the token's grant is for room %q, not %q", granted, room))
}

var _ livekit.Egress = (*service)(nil)

// segmentOutput picks the one segmented output a request may carry (the repeated field or
// the deprecated oneof) and refuses what Atrium does not record.
func (s *service) segmentOutput(segs []*livekit.SegmentedFileOutput, legacy *livekit.SegmentedFileOutput,
	files, streams, images int) (*livekit.SegmentedFileOutput, error) {
	if files+streams+images > 0 {
		return nil, twirp.NewError(twirp.Unimplemented, "Atrium records to segmented HLS only (segment_outputs)")
	}
	if legacy != nil {
		segs = append(segs, legacy)
	}
	if len(segs) != 1 {
		return nil, twirp.NewError(twirp.InvalidArgument, "exactly one segment output is required")
	}
	o := segs[0]
	if b := o.GetS3().GetBucket(); b != "" && b != s.p.Bucket {
		return nil, twirp.NewError(twirp.InvalidArgument,
			fmt.Sprintf("recordings are stored in bucket %q; leave s3.bucket empty or use it", s.p.Bucket))
	}
	if o.GetGcp() != nil || o.GetAzure() != nil || o.GetAliOSS() != nil {
		return nil, twirp.NewError(twirp.Unimplemented, "only S3-compatible storage is supported")
	}
	return o, nil
}

func (s *service) create(ctx context.Context, kind, room string, o *livekit.SegmentedFileOutput, mutate func(*Job)) (*livekit.EgressInfo, error) {
	if room == "" {
		return nil, twirp.NewError(twirp.InvalidArgument, "room_name is required")
	}
	if err := checkRoom(ctx, room); err != nil {
		return nil, err
	}
	id := NewID()
	prefix := strings.Trim(o.GetFilenamePrefix(), "/")
	if strings.Contains(prefix, "..") {
		return nil, twirp.NewError(twirp.InvalidArgument, "filename_prefix must not contain ..")
	}
	if prefix == "" {
		prefix = "recordings/" + id
	}
	name := o.GetPlaylistName()
	if name == "" {
		name = "index.m3u8"
	}
	if strings.Contains(name, "/") || !strings.HasSuffix(name, ".m3u8") {
		return nil, twirp.NewError(twirp.InvalidArgument, "playlist_name must be a plain name ending in .m3u8")
	}
	j := Job{ID: id, Room: room, Kind: kind, KeyPrefix: prefix, PlaylistName: name}
	if mutate != nil {
		mutate(&j)
	}
	if err := s.p.Store.Create(ctx, j); err != nil {
		return nil, twirp.InternalErrorWith(err)
	}
	got, err := s.p.Store.Get(ctx, id)
	if err != nil {
		return nil, twirp.InternalErrorWith(err)
	}
	s.p.Logger.Info("egress created", "egress", id, "room", room, "kind", kind)
	return Info(got, s.p.Bucket), nil
}

func (s *service) StartRoomCompositeEgress(ctx context.Context, r *livekit.RoomCompositeEgressRequest) (*livekit.EgressInfo, error) {
	if r.GetAudioOnly() {
		return nil, twirp.NewError(twirp.Unimplemented, "audio-only recordings are not supported")
	}
	o, err := s.segmentOutput(r.GetSegmentOutputs(), r.GetSegments(), len(r.GetFileOutputs()),
		len(r.GetStreamOutputs()), len(r.GetImageOutputs()))
	if err != nil {
		return nil, err
	}
	return s.create(ctx, "room_composite", r.GetRoomName(), o, nil)
}

func (s *service) StartTrackCompositeEgress(ctx context.Context, r *livekit.TrackCompositeEgressRequest) (*livekit.EgressInfo, error) {
	if r.GetVideoTrackId() == "" {
		return nil, twirp.NewError(twirp.InvalidArgument, "video_track_id is required")
	}
	o, err := s.segmentOutput(r.GetSegmentOutputs(), r.GetSegments(), len(r.GetFileOutputs()),
		len(r.GetStreamOutputs()), len(r.GetImageOutputs()))
	if err != nil {
		return nil, err
	}
	return s.create(ctx, "track_composite", r.GetRoomName(), o, func(j *Job) {
		j.VideoTrack, j.AudioTrack = r.GetVideoTrackId(), r.GetAudioTrackId()
	})
}

func (s *service) ListEgress(ctx context.Context, r *livekit.ListEgressRequest) (*livekit.ListEgressResponse, error) {
	// A room-bound grant lists its room only, whatever the request names.
	room := r.GetRoomName()
	if granted, _ := ctx.Value(grantRoomKey{}).(string); granted != "" {
		if err := roomAllowed(granted, cmp.Or(room, granted)); err != nil {
			return nil, err
		}
		room = granted
	}
	var jobs []Job
	if r.GetEgressId() != "" {
		j, err := s.p.Store.Get(ctx, r.GetEgressId())
		if errors.Is(err, ErrNotFound) {
			return &livekit.ListEgressResponse{}, nil
		}
		if err != nil {
			return nil, twirp.InternalErrorWith(err)
		}
		jobs = []Job{j}
	} else {
		var err error
		if jobs, err = s.p.Store.List(ctx, room, r.GetActive()); err != nil {
			return nil, twirp.InternalErrorWith(err)
		}
	}
	out := &livekit.ListEgressResponse{}
	for _, j := range jobs {
		if room != "" && j.Room != room {
			continue
		}
		if r.GetActive() && (j.State == StateComplete || j.State == StateFailed) {
			continue
		}
		out.Items = append(out.Items, Info(j, s.p.Bucket))
	}
	return out, nil
}

func (s *service) StopEgress(ctx context.Context, r *livekit.StopEgressRequest) (*livekit.EgressInfo, error) {
	if granted, _ := ctx.Value(grantRoomKey{}).(string); granted != "" {
		j, err := s.p.Store.Get(ctx, r.GetEgressId())
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, twirp.NewError(twirp.NotFound, err.Error())
		case err != nil:
			return nil, twirp.InternalErrorWith(err)
		}
		if err := roomAllowed(granted, j.Room); err != nil {
			return nil, err
		}
	}
	j, err := s.p.Store.RequestStop(ctx, r.GetEgressId())
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, twirp.NewError(twirp.NotFound, err.Error())
	case err != nil:
		return nil, twirp.NewError(twirp.FailedPrecondition, err.Error())
	}
	return Info(j, s.p.Bucket), nil
}

var errUnimplemented = twirp.NewError(twirp.Unimplemented, "not supported by Atrium (see docs/recording.md)")

func (s *service) StartEgress(context.Context, *livekit.StartEgressRequest) (*livekit.EgressInfo, error) {
	return nil, errUnimplemented
}
func (s *service) UpdateLayout(context.Context, *livekit.UpdateLayoutRequest) (*livekit.EgressInfo, error) {
	return nil, errUnimplemented
}
func (s *service) UpdateStream(context.Context, *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error) {
	return nil, errUnimplemented
}
func (s *service) StartWebEgress(context.Context, *livekit.WebEgressRequest) (*livekit.EgressInfo, error) {
	return nil, errUnimplemented
}
func (s *service) StartParticipantEgress(context.Context, *livekit.ParticipantEgressRequest) (*livekit.EgressInfo, error) {
	return nil, errUnimplemented
}
func (s *service) StartTrackEgress(context.Context, *livekit.TrackEgressRequest) (*livekit.EgressInfo, error) {
	return nil, errUnimplemented
}

// Info renders a job as LiveKit's EgressInfo with one segments result.
func Info(j Job, bucket string) *livekit.EgressInfo {
	status := map[string]livekit.EgressStatus{
		StateStarting: livekit.EgressStatus_EGRESS_STARTING,
		StateActive:   livekit.EgressStatus_EGRESS_ACTIVE,
		StateEnding:   livekit.EgressStatus_EGRESS_ENDING,
		StateComplete: livekit.EgressStatus_EGRESS_COMPLETE,
		StateFailed:   livekit.EgressStatus_EGRESS_FAILED,
	}[j.State]
	name := j.PlaylistName
	if name == "" {
		name = "index.m3u8"
	}
	prefix := j.KeyPrefix
	if prefix == "" {
		prefix = "recordings/" + j.ID
	}
	key := path.Join(prefix, name)
	seg := &livekit.SegmentsInfo{PlaylistName: key, PlaylistLocation: "s3://" + bucket + "/" + key,
		Duration: int64(j.Duration * float64(time.Second)), Size: j.Bytes, SegmentCount: int64(j.Segments),
		StartedAt: j.StartedAt, EndedAt: j.EndedAt}
	info := &livekit.EgressInfo{EgressId: j.ID, RoomName: j.Room, Status: status, StartedAt: j.StartedAt,
		EndedAt: j.EndedAt, UpdatedAt: time.Now().UnixNano(), Error: j.Error,
		SegmentResults: []*livekit.SegmentsInfo{seg}}
	if len(j.Gaps) > 0 {
		var total float64
		for _, g := range j.Gaps {
			total += g.Seconds
		}
		info.Details = fmt.Sprintf("%d gap(s) totalling %.1f s after recorder takeovers", len(j.Gaps), total)
	}
	return info
}

// NewID returns a LiveKit-style egress id (EG_ and 12 base62 characters).
func NewID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "EG_" + string(b)
}
