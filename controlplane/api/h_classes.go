package api

import (
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/catalog"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

func (h *Handler) listClasses(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := problem.Field{}
	cq := store.ClassQuery{Text: q.Get("q"), Topic: q.Get("topic"), Tier: q.Get("tier"), Sort: q.Get("sort"), Limit: 20}
	if t := q.Get("teacher"); t != "" {
		if !isUUID(t) {
			f.Add("teacher", "must be a teacher id (UUID)")
		}
		cq.TeacherID = t
	}
	switch cq.Sort {
	case "", store.SortStart, store.SortPrice, store.SortPopularity:
	default:
		f.Add("sort", "must be start, price or popularity")
	}
	if cq.Tier != "" && cq.Tier != "basic" && cq.Tier != "premium" && cq.Tier != "vip" {
		f.Add("tier", "must be basic, premium or vip")
	}
	if len(cq.Text) > 200 {
		f.Add("q", "must be at most 200 characters")
	}
	cq.From, cq.To = queryTime(r, f, "from"), queryTime(r, f, "to")
	cq.MinPrice, cq.MaxPrice = queryInt(r, f, "min_price", 0, 1000000), queryInt(r, f, "max_price", 0, 1000000)
	if l := queryInt(r, f, "limit", 1, 100); l != nil {
		cq.Limit = *l
	}
	if c := q.Get("cursor"); c != "" {
		var cur store.ClassCursor
		if !decodeCursor(c, &cur) || !isUUID(cur.ID) {
			f.Add("cursor", "is not a cursor from a previous page")
		}
		cq.After = &cur
	}
	if err := f.Err(); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	classes, next, err := h.Catalog.Search(r.Context(), cq)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	out := page[classView]{Items: h.classesOut(classes)}
	if next != nil {
		c := encodeCursor(next)
		out.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) popularClasses(w http.ResponseWriter, r *http.Request) {
	f := problem.Field{}
	limit := 10
	if l := queryInt(r, f, "limit", 1, 50); l != nil {
		limit = *l
	}
	if err := f.Err(); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	classes, _, err := h.Catalog.Search(r.Context(), store.ClassQuery{Sort: store.SortPopularity, Limit: limit})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": h.classesOut(classes)})
}

func (h *Handler) getClass(w http.ResponseWriter, r *http.Request) {
	id, err := pathUUID(r, "id")
	var c store.Class
	if err == nil {
		c, err = h.Catalog.Get(r.Context(), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, h.classOut(c))
}

type classBody struct {
	Title              *string    `json:"title"`
	Topic              *string    `json:"topic"`
	Description        *string    `json:"description"`
	StartsAt           *time.Time `json:"starts_at"`
	DurationMinutes    *int       `json:"duration_minutes"`
	TimeZone           *string    `json:"time_zone"`
	Capacity           *int       `json:"capacity"`
	Tier               *string    `json:"tier"`
	PriceCredits       *int       `json:"price_credits"`
	Recordable         *bool      `json:"recordable"`
	StudentsCanPublish *bool      `json:"students_can_publish"`
}

func (b classBody) input() catalog.ClassInput {
	return catalog.ClassInput{Title: b.Title, Topic: b.Topic, Description: b.Description, StartsAt: b.StartsAt,
		DurationMinutes: b.DurationMinutes, TimeZone: b.TimeZone, Capacity: b.Capacity, Tier: b.Tier,
		PriceCredits: b.PriceCredits, Recordable: b.Recordable, StudentsCanPublish: b.StudentsCanPublish}
}

func (h *Handler) createClass(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in classBody
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	c, err := h.Catalog.Create(r.Context(), actor(p), in.input())
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	w.Header().Set("Location", "/api/v1/classes/"+c.ID)
	writeJSON(w, http.StatusCreated, h.classOut(c))
}

func (h *Handler) patchClass(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	var in classBody
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	c, err := h.Catalog.Update(r.Context(), actor(p), id, in.input())
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, h.classOut(c))
}

func (h *Handler) cancelClass(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	c, err := h.Catalog.Cancel(r.Context(), actor(p), id, in.Reason)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	h.closeMediaRoom(r.Context(), c.ID)
	writeJSON(w, http.StatusOK, h.classOut(c))
}

func (h *Handler) getTeacher(w http.ResponseWriter, r *http.Request) {
	id, err := pathUUID(r, "id")
	var tp catalog.TeacherProfile
	if err == nil {
		tp, err = h.Catalog.Teacher(r.Context(), id, 20)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	t := tp.Teacher
	writeJSON(w, http.StatusOK, map[string]any{"id": t.ID, "name": t.Name, "bio": t.Bio, "time_zone": t.TimeZone,
		"rating": t.Rating(), "rating_count": t.RatingCount, "upcoming": h.classesOut(tp.Upcoming)})
}

func (h *Handler) createDiscount(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in struct {
		Code       string     `json:"code"`
		ClassID    string     `json:"class_id"`
		Kind       string     `json:"kind"`
		Amount     int        `json:"amount"`
		ValidFrom  *time.Time `json:"valid_from"`
		ValidUntil time.Time  `json:"valid_until"`
		MaxUses    int        `json:"max_uses"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	if in.ClassID != "" && !isUUID(in.ClassID) {
		writeError(w, r, h.Log, problem.Validation(map[string]string{"class_id": "must be one of your classes"}))
		return
	}
	d, err := h.Catalog.CreateDiscount(r.Context(), actor(p), catalog.DiscountInput{Code: in.Code, ClassID: in.ClassID,
		Kind: in.Kind, Amount: in.Amount, ValidFrom: in.ValidFrom, ValidUntil: in.ValidUntil, MaxUses: in.MaxUses})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewDiscount(d))
}

func (h *Handler) listDiscounts(w http.ResponseWriter, r *http.Request, p store.Principal) {
	ds, err := h.Catalog.Discounts(r.Context(), actor(p))
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	out := make([]discountView, 0, len(ds))
	for _, d := range ds {
		out = append(out, viewDiscount(d))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (h *Handler) disableDiscount(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	if err == nil {
		err = h.Catalog.DisableDiscount(r.Context(), actor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) rateClass(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	var in struct {
		Stars   int    `json:"stars"`
		Comment string `json:"comment"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	rt, err := h.Catalog.Rate(r.Context(), actor(p), id, in.Stars, in.Comment)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"class_id": rt.ClassID, "stars": rt.Stars, "comment": rt.Comment,
		"created_at": rt.CreatedAt})
}
