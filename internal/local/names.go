package local

import (
	"crypto/sha256"
	"encoding/hex"
)

// maxDBName is the longest database name restage derives. PostgreSQL keeps
// 63 bytes of an identifier (it silently cuts longer ones) and MySQL
// refuses names over 64 characters; one limit under both keeps a target's
// names the same on either engine and means the name the control DB
// records is exactly the name the server stores.
const maxDBName = 63

// DBName is the name of the database run runID creates for target.
func DBName(target, runID string) string { return fitName(target, runID) }

// HoldingName is the name a hand-made staging DB (or its tables, on MySQL)
// moves to when a run replaces it.
func HoldingName(target, runID string) string { return fitName(target, "previous_"+runID) }

// fitName is restage_<target>_<tail>, made to fit maxDBName by
// construction: when too long, the target part is cut and followed by a
// short hash of the whole target, so two long targets sharing a prefix
// still get different names. The tail (which carries the run id) is kept
// whole when it can be, since operators read it.
func fitName(target, tail string) string {
	n := "restage_" + target + "_" + tail
	if len(n) <= maxDBName {
		return n
	}
	sum := sha256.Sum256([]byte(target + "\x00" + tail))
	h := hex.EncodeToString(sum[:])
	keep := maxDBName - len("restage_") - len("_") - len(tail) - 6
	if keep >= 1 {
		return "restage_" + target[:min(keep, len(target))] + h[:6] + "_" + tail
	}
	// A tail too long to keep (a hand-given run id): cut it too; the hash
	// covers both parts.
	n = "restage_" + target[:min(8, len(target))] + "_" + h[:16] + "_" + tail
	return n[:maxDBName]
}
