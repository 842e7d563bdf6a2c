package catalog

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Rate records a student's 1–5 star rating of a class they attended, once, after it ended.
// Requiring attendance (from the SFU's webhooks) keeps ratings to people who were there.
func (s *Service) Rate(ctx context.Context, a Actor, classID string, stars int, comment string) (store.Rating, error) {
	comment = strings.TrimSpace(comment)
	f := problem.Field{}
	if stars < 1 || stars > 5 {
		f.Add("stars", "must be 1 to 5")
	}
	if utf8.RuneCountInString(comment) > 1000 || !utf8.ValidString(comment) {
		f.Add("comment", "must be at most 1000 characters")
	}
	if err := f.Err(); err != nil {
		return store.Rating{}, err
	}
	c, err := s.Store.ClassByID(ctx, classID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Rating{}, errNotFound
	}
	if err != nil {
		return store.Rating{}, err
	}
	if c.Status != store.ClassScheduled || s.Now().Before(c.EndsAt()) {
		return store.Rating{}, problem.New(http.StatusConflict, problem.CodeConflict, "classes can be rated once they have ended")
	}
	attended, err := s.Store.HasAttended(ctx, classID, a.UserID)
	if err != nil {
		return store.Rating{}, err
	}
	if !attended || c.TeacherID == a.UserID {
		return store.Rating{}, problem.New(http.StatusForbidden, problem.CodeForbidden, "only students who attended can rate this class")
	}
	r, err := s.Store.AddRating(ctx, store.Rating{ClassID: classID, StudentID: a.UserID, TeacherID: c.TeacherID,
		Stars: stars, Comment: comment})
	if errors.Is(err, store.ErrConflict) {
		return r, problem.New(http.StatusConflict, problem.CodeConflict, "you already rated this class")
	}
	return r, err
}
