// Package lifecycle is the one definition of a copy's life, shared by every
// provider: a copy restage creates goes
//
//	creating → ready → live → previous → retired
//	    ↘        ↘
//	     discarded (a failed or killed run's copy)
//
// Providers record the state where the next run finds it (the local
// provider's control DB; the AWS provider's restage:state tag) and move it
// only along Transitions, so that a sweep can tell a leftover from the live
// copy after a crash at any instant.
package lifecycle

import "fmt"

// State is where a copy is in its life.
type State string

const (
	// Creating: recorded before the copy is created, so that a killed run
	// leaves a leftover the next sweep finds.
	Creating State = "creating"
	// Ready: restored and accepting logins; being masked and verified.
	Ready State = "ready"
	// Live: behind the staging name.
	Live State = "live"
	// Previous: was live until the last switch; retired after the grace
	// period (or kept, up to keep-last).
	Previous State = "previous"
	// Retired: a previous copy, deleted.
	Retired State = "retired"
	// Discarded: a copy that never went live (failed or killed run),
	// deleted.
	Discarded State = "discarded"
)

// Transitions are the moves a provider may record.
var Transitions = map[State][]State{
	Creating: {Ready, Discarded},
	Ready:    {Live, Discarded},
	Live:     {Previous},
	Previous: {Retired, Live}, // Live: a switch rolled back or finished backwards
}

// CanMove reports whether from → to is a move of the life above.
func CanMove(from, to State) bool {
	for _, s := range Transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Move checks from → to and returns an error naming both otherwise.
func Move(from, to State) error {
	if !CanMove(from, to) {
		return fmt.Errorf("lifecycle: a copy can't go from %s to %s", from, to)
	}
	return nil
}

// Leftover reports whether a copy in state s belongs to no live run once
// the run lock is held: a sweep deletes it (Discarded for Creating and
// Ready, Retired for Previous).
func Leftover(s State) bool { return s == Creating || s == Ready || s == Previous }

// Gone reports whether the copy no longer exists.
func Gone(s State) bool { return s == Retired || s == Discarded }

// Valid reports whether s is one of the states above.
func Valid(s State) bool {
	switch s {
	case Creating, Ready, Live, Previous, Retired, Discarded:
		return true
	}
	return false
}
