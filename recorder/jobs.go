package recorder

import "context"

// JobSource hands the recorder jobs to claim (see pkg/egress for the Redis store).
type JobSource interface{}

func (s *Server) runJobs(ctx context.Context, _ JobSource) error {
	<-ctx.Done()
	return nil
}
