package gbdt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// Loss is the training objective.
type Loss string

// Losses.
const (
	LossLogistic Loss = "logistic" // binary classification; predictions are probabilities
	LossSquared  Loss = "squared"  // regression; predictions are values
)

// Node is one node of a Tree. A leaf has Feature -1 and carries Value.
// An internal node sends a row left when its numeric value is <= Threshold
// or, for a Categorical split, its category code is in Categories; a missing value goes left when
// DefaultLeft; anything else (including an unseen category) goes right.
type Node struct {
	Feature     int      `json:"feature"`
	Threshold   float64  `json:"threshold,omitempty"`
	Categorical bool     `json:"categorical,omitempty"`
	Categories  []uint32 `json:"categories,omitempty"` // sorted codes that go left
	DefaultLeft bool     `json:"default_left,omitempty"`
	Left        int      `json:"left,omitempty"`
	Right       int      `json:"right,omitempty"`
	Value       float64  `json:"value,omitempty"` // leaf output, learning rate applied
	Cover       float64  `json:"cover"`           // sum of training hessians reaching the node
	Gain        float64  `json:"gain,omitempty"`  // loss reduction of the split
}

// IsLeaf reports whether n is a leaf.
func (n *Node) IsLeaf() bool { return n.Feature < 0 }

// Tree is a binary tree; Nodes[0] is the root.
type Tree struct {
	Nodes []Node `json:"nodes"`
}

// Model is a trained ensemble. The raw score (margin) of a row is Base plus
// the leaf values its path reaches in every tree; for LossLogistic the
// prediction is the logistic sigmoid of the margin.
type Model struct {
	Loss     Loss      `json:"loss"`
	Features []Feature `json:"features"`
	Base     float64   `json:"base"`
	Trees    []Tree    `json:"trees"`
	// BestRound is the round (1-based) early stopping kept, 0 when early
	// stopping was off. ValidLoss is the validation loss after each round.
	BestRound int       `json:"best_round,omitempty"`
	ValidLoss []float64 `json:"valid_loss,omitempty"`
	Params    Params    `json:"params"`
}

// goLeft reports the direction of value v at internal node n.
func (n *Node) goLeft(v float64) bool {
	if math.IsNaN(v) {
		return n.DefaultLeft
	}
	if n.Categorical {
		if v < 0 {
			return n.DefaultLeft
		}
		if v >= math.MaxUint32 || v != math.Trunc(v) {
			return false
		}
		_, found := slices.BinarySearch(n.Categories, uint32(v))
		return found
	}
	return v <= n.Threshold
}

// leaf returns the index of the leaf row x reaches.
func (t *Tree) leaf(x []float64) int {
	i := 0
	for {
		n := &t.Nodes[i]
		if n.IsLeaf() {
			return i
		}
		if n.goLeft(x[n.Feature]) {
			i = n.Left
		} else {
			i = n.Right
		}
	}
}

// Margin returns the raw score of row x (one value per feature, in
// Features order).
func (m *Model) Margin(x []float64) float64 {
	s := m.Base
	for i := range m.Trees {
		t := &m.Trees[i]
		s += t.Nodes[t.leaf(x)].Value
	}
	return s
}

// Predict returns the prediction for row x: a probability for
// LossLogistic, a value for LossSquared.
func (m *Model) Predict(x []float64) float64 { return m.link(m.Margin(x)) }

func (m *Model) link(margin float64) float64 {
	if m.Loss == LossLogistic {
		return sigmoid(margin)
	}
	return margin
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Importance returns the total split gain of each feature, in Features
// order.
func (m *Model) Importance() []float64 {
	imp := make([]float64, len(m.Features))
	for _, t := range m.Trees {
		for _, n := range t.Nodes {
			if !n.IsLeaf() {
				imp[n.Feature] += n.Gain
			}
		}
	}
	return imp
}

// MaxDepth returns the depth of the deepest tree (a lone leaf has depth 0).
func (m *Model) MaxDepth() int {
	d := 0
	for i := range m.Trees {
		d = max(d, m.Trees[i].depth(0))
	}
	return d
}

func (t *Tree) depth(i int) int {
	n := &t.Nodes[i]
	if n.IsLeaf() {
		return 0
	}
	return 1 + max(t.depth(n.Left), t.depth(n.Right))
}

// Format and Version identify the serialised model. Version changes when
// the meaning of a field changes; readers refuse versions they do not know.
const (
	Format  = "sextant-gbdt"
	Version = 1
)

// maxModelBytes bounds what Decode reads.
const maxModelBytes = 1 << 30

type envelope struct {
	Format  string          `json:"format"`
	Version int             `json:"version"`
	Model   json.RawMessage `json:"model"`
}

// Encode writes m in the versioned JSON format.
func (m *Model) Encode(w io.Writer) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("gbdt: encode model: %w", err)
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(envelope{Format: Format, Version: Version, Model: body}); err != nil {
		return fmt.Errorf("gbdt: write model: %w", err)
	}
	return nil
}

// ErrVersion is wrapped by Decode when the model was written in a format
// version this package does not read.
var ErrVersion = errors.New("unsupported model version")

// Decode reads a model written by Encode and checks that it is well formed:
// every child index in range and below no ancestor, every feature index
// valid, every number finite. Models of another format version are refused
// with an error wrapping ErrVersion.
func Decode(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("gbdt: read model: %w", err)
	}
	if len(data) > maxModelBytes {
		return nil, fmt.Errorf("gbdt: model larger than %d bytes", maxModelBytes)
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("gbdt: decode model: %w", err)
	}
	if env.Format != Format {
		return nil, fmt.Errorf("gbdt: not a %s model (format %q)", Format, env.Format)
	}
	if env.Version != Version {
		return nil, fmt.Errorf("gbdt: model format version %d, this build reads version %d: %w", env.Version, Version, ErrVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(env.Model))
	dec.DisallowUnknownFields()
	var m Model
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("gbdt: decode model: %w", err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("gbdt: invalid model: %w", err)
	}
	return &m, nil
}

// check validates the structure of a decoded model.
func (m *Model) check() error {
	switch m.Loss {
	case LossLogistic, LossSquared:
	default:
		return fmt.Errorf("unknown loss %q", m.Loss)
	}
	if len(m.Features) == 0 {
		return errors.New("no features")
	}
	if !finite(m.Base) {
		return errors.New("base score is not finite")
	}
	for ti := range m.Trees {
		t := &m.Trees[ti]
		if len(t.Nodes) == 0 {
			return fmt.Errorf("tree %d has no nodes", ti)
		}
		// Children must come after their parent: no cycles, and reaching a
		// leaf is guaranteed.
		reached := make([]bool, len(t.Nodes))
		reached[0] = true
		for i := range t.Nodes {
			n := &t.Nodes[i]
			if !reached[i] {
				return fmt.Errorf("tree %d node %d is unreachable", ti, i)
			}
			if !finite(n.Value) || !finite(n.Cover) || !finite(n.Gain) || n.Cover < 0 {
				return fmt.Errorf("tree %d node %d: value, cover or gain not finite", ti, i)
			}
			if n.IsLeaf() {
				if n.Feature != -1 || n.Categorical || n.Categories != nil {
					return fmt.Errorf("tree %d node %d: malformed leaf", ti, i)
				}
				continue
			}
			if n.Feature >= len(m.Features) {
				return fmt.Errorf("tree %d node %d: feature %d out of range", ti, i, n.Feature)
			}
			if n.Left <= i || n.Right <= i || n.Left >= len(t.Nodes) || n.Right >= len(t.Nodes) || n.Left == n.Right {
				return fmt.Errorf("tree %d node %d: bad children %d, %d", ti, i, n.Left, n.Right)
			}
			if reached[n.Left] || reached[n.Right] {
				return fmt.Errorf("tree %d node %d: a child has two parents", ti, i)
			}
			reached[n.Left], reached[n.Right] = true, true
			if n.Categorical != m.Features[n.Feature].Categorical {
				return fmt.Errorf("tree %d node %d: split kind does not match feature %d", ti, i, n.Feature)
			}
			if n.Categorical {
				if !slices.IsSorted(n.Categories) {
					return fmt.Errorf("tree %d node %d: categorical split needs sorted categories", ti, i)
				}
				if k := len(n.Categories); k > 0 && n.Categories[k-1] >= MaxCategories {
					return fmt.Errorf("tree %d node %d: category code %d over the maximum %d", ti, i, n.Categories[k-1], MaxCategories-1)
				}
			} else if n.Categories != nil || !finite(n.Threshold) {
				return fmt.Errorf("tree %d node %d: numeric split needs a finite threshold", ti, i)
			}
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
