package train

import (
	"encoding/json"
	"fmt"
	"time"
)

// KeepBest saves the model whenever an evaluation's Score beats the best
// so far (higher is better: BLEU, ROUGE, EM). Its best score and step live
// in the checkpoint, so a resumed run keeps comparing against them.
type KeepBest struct {
	// Save writes the model (the caller chooses where: the run's model/).
	Save func(m Metrics) error `json:"-"`
	// OnSave, if set, is told of each new best (to print it).
	OnSave func(m Metrics) `json:"-"`

	// ByLoss keeps the lowest validation loss instead (Best is then its
	// negative).
	ByLoss bool `json:"by_loss,omitempty"`

	Best     float64 `json:"best"`
	BestStep int     `json:"best_step"` // 0: none yet
}

// Name implements Hook.
func (k *KeepBest) Name() string { return "keep_best" }

// AfterStep saves the model if this step was evaluated and beat the best.
func (k *KeepBest) AfterStep(m Metrics) error {
	score := m.Score
	if k.ByLoss && m.ValLoss != nil {
		s := -*m.ValLoss
		score = &s
	} else if k.ByLoss {
		score = nil
	}
	if score == nil || k.BestStep > 0 && *score <= k.Best {
		return nil
	}
	if err := k.Save(m); err != nil {
		return err
	}
	k.Best, k.BestStep = *score, m.Step
	if k.OnSave != nil {
		k.OnSave(m)
	}
	return nil
}

// State implements Hook.
func (k *KeepBest) State() ([]byte, error) { return json.Marshal(k) }

// SetState implements Hook.
func (k *KeepBest) SetState(b []byte) error { return json.Unmarshal(b, k) }

// Snapshots saves a copy of the model when the training time (over every
// resumed run) first reaches each of Times, to compare quality against
// training time; which ones are done is kept in the checkpoint.
type Snapshots struct {
	Times []time.Duration `json:"-"`
	// Save writes the snapshot for Times[i] (the caller names its directory).
	Save func(at time.Duration, m Metrics) error `json:"-"`

	Done int `json:"done"` // Times[:Done] are saved
}

// Name implements Hook.
func (s *Snapshots) Name() string { return "snapshots" }

// AfterStep saves the snapshots whose time has come.
func (s *Snapshots) AfterStep(m Metrics) error {
	for s.Done < len(s.Times) && m.Elapsed >= s.Times[s.Done].Seconds() {
		if err := s.Save(s.Times[s.Done], m); err != nil {
			return fmt.Errorf("snapshot at %v: %w", s.Times[s.Done], err)
		}
		s.Done++
	}
	return nil
}

// State implements Hook.
func (s *Snapshots) State() ([]byte, error) { return json.Marshal(s) }

// SetState implements Hook.
func (s *Snapshots) SetState(b []byte) error { return json.Unmarshal(b, s) }
