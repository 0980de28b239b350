package local

import (
	"encoding/json"
	"strings"
)

// Marker is what restage writes on every database it creates, so that the
// database can be recognised as restage's even when the control DB is
// lost: a database comment (PostgreSQL COMMENT ON DATABASE, MariaDB ≥ 10.5
// schema comment). It adds nothing to the application's schema. MySQL 8
// has no database comment: there the control DB is the only record (see
// docs/local-mysql.md).
//
// A marker alone never makes a database restage's: it is looked for only
// on databases whose name matches restage_% (or the staging name), and it
// must name this target.
type Marker struct {
	Restage int    `json:"restage"` // format version
	Target  string `json:"target"`
	Run     string `json:"run,omitempty"`
	// Name is the database's restage name (what the control DB records):
	// on PostgreSQL a live copy keeps its comment under the staging name.
	Name string `json:"name,omitempty"`
	// Role: "copy" (made by a run), "holding" (MySQL: receives the
	// tables of the DB behind the staging name), "staging" (MySQL: the
	// stable staging schema restage fills).
	Role string `json:"role"`
	// Origin is set when the database holds data restage did not create
	// (a hand-made staging DB's): deleted only when adopted.
	Origin string `json:"origin,omitempty"`
}

const markerVersion = 1

func (m Marker) String() string {
	m.Restage = markerVersion
	b, _ := json.Marshal(m)
	return string(b)
}

// ParseMarker reads a database comment; ok is false for anything that is
// not a restage marker.
func ParseMarker(s string) (m Marker, ok bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, `{"restage":`) {
		return m, false
	}
	if err := json.Unmarshal([]byte(s), &m); err != nil || m.Restage < 1 || m.Target == "" {
		return Marker{}, false
	}
	return m, true
}
