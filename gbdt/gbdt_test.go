package gbdt

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// synth builds n rows of features from gen, with labels from label.
func synth(n int, feats []Feature, seed uint64, gen func(r *rand.Rand, x []float64), label func(x []float64) float64) *Data {
	r := rand.New(rand.NewPCG(seed, 1))
	d := &Data{Features: feats, Columns: make([][]float64, len(feats)), Label: make([]float64, n)}
	for j := range d.Columns {
		d.Columns[j] = make([]float64, n)
	}
	x := make([]float64, len(feats))
	for i := range n {
		gen(r, x)
		for j, v := range x {
			d.Columns[j][i] = v
		}
		d.Label[i] = label(x)
	}
	return d
}

func accuracy(m *Model, d *Data) float64 {
	rows := rowsOf(d)
	ok := 0
	for i, x := range rows {
		p := m.Predict(x)
		if (p >= 0.5) == (d.Label[i] == 1) {
			ok++
		}
	}
	return float64(ok) / float64(len(rows))
}

func TestSplitGainHandComputed(t *testing.T) {
	// Four rows, one feature with values 1,2,3,4 and labels 0,0,1,1; base
	// margin 0 so p = 0.5, g = p - y = ±0.5, h = 0.25.
	d := &Data{
		Features: []Feature{{Name: "x"}},
		Columns:  [][]float64{{1, 2, 3, 4}},
		Label:    []float64{0, 0, 1, 1},
	}
	p := Params{Lambda: 1, MinChildWeight: 0.01, Threads: 1}.withDefaults()
	tr := newTrainer(d, p)
	tr.gradients()
	n := tr.sampleRows()
	tr.sampleFeatures()
	l := &leaf{begin: 0, end: n, hist: tr.getHist()}
	tr.buildHist(tr.rows[:n], l.hist)
	for _, r := range tr.rows[:n] {
		l.g += tr.grad[r]
		l.h += tr.hess[r]
	}
	tr.findSplit(l)
	// Best split: {1,2} | {3,4}: GL = 1, HL = 0.5, GR = -1, HR = 0.5.
	// gain = ½ (1²/1.5 + 1²/1.5 - 0²/2) = 2/3.
	if l.best.thr != 1 || math.Abs(l.best.gain-2.0/3) > 1e-12 {
		t.Fatalf("best split: bin %d gain %v, want bin 1 gain 2/3", l.best.thr, l.best.gain)
	}
	if got := tr.bn.upper[0][1]; got != 2.5 {
		t.Fatalf("threshold %v, want 2.5 (halfway between 2 and 3)", got)
	}
	// With L1 alpha = 0.5: T(1) = 0.5, so gain = ½ (0.25/1.5 × 2) = 1/6.
	if got := splitGain(1, 0.5, -1, 0.5, 1, 0.5); math.Abs(got-1.0/6) > 1e-12 {
		t.Fatalf("L1 gain %v, want 1/6", got)
	}
	if got := leafWeight(1, 0.5, 1, 0.5); math.Abs(got+1.0/3) > 1e-12 {
		t.Fatalf("leaf weight %v, want -1/3", got)
	}
}

func TestCategoricalSplitHandComputed(t *testing.T) {
	// Categories 0 and 2 are positive, 1 and 3 negative: the best partition
	// is {0,2} | {1,3}, which no threshold on the codes can express.
	d := &Data{
		Features: []Feature{{Name: "c", Categorical: true}},
		Columns:  [][]float64{{0, 1, 2, 3, 0, 1, 2, 3}},
		Label:    []float64{1, 0, 1, 0, 1, 0, 1, 0},
	}
	m, err := Train(context.Background(), d, nil, Params{Rounds: 1, MaxDepth: 1, MinChildWeight: 0.01, LearningRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	root := m.Trees[0].Nodes[0]
	if !root.Categorical {
		t.Fatalf("root is not a categorical split: %+v", root)
	}
	got := root.Categories
	if !(cmp.Equal(got, []uint32{0, 2}) || cmp.Equal(got, []uint32{1, 3})) {
		t.Fatalf("left categories %v, want {0,2} or {1,3}", got)
	}
	// Four positives (g=-0.5, h=0.25 each) vs four negatives: gain =
	// ½ (2²/2 + 2²/2 - 0) = 2.
	if math.Abs(root.Gain-2) > 1e-12 {
		t.Fatalf("gain %v, want 2", root.Gain)
	}
}

func TestLearnsKnownFunctions(t *testing.T) {
	num := []Feature{{Name: "a"}, {Name: "b"}, {Name: "noise"}}
	uniform := func(r *rand.Rand, x []float64) {
		for j := range x {
			x[j] = r.Float64()*2 - 1
		}
	}
	cases := []struct {
		name  string
		train *Data
		test  *Data
		p     Params
		min   float64
	}{
		{
			name:  "xor",
			train: synth(4000, num, 1, uniform, func(x []float64) float64 { return b2f((x[0] > 0) != (x[1] > 0)) }),
			test:  synth(2000, num, 2, uniform, func(x []float64) float64 { return b2f((x[0] > 0) != (x[1] > 0)) }),
			p:     Params{Rounds: 50, MaxDepth: 3},
			min:   0.97,
		},
		{
			name:  "threshold",
			train: synth(4000, num, 3, uniform, func(x []float64) float64 { return b2f(x[1] > 0.3) }),
			test:  synth(2000, num, 4, uniform, func(x []float64) float64 { return b2f(x[1] > 0.3) }),
			p:     Params{Rounds: 20, MaxDepth: 2},
			min:   0.99,
		},
		{
			name: "categorical interaction",
			train: synth(4000, []Feature{{Name: "c", Categorical: true}, {Name: "x"}}, 5, catGen,
				catLabel),
			test: synth(2000, []Feature{{Name: "c", Categorical: true}, {Name: "x"}}, 6, catGen, catLabel),
			p:    Params{Rounds: 60, MaxDepth: 3},
			min:  0.97,
		},
		{
			name:  "missing pattern",
			train: synth(4000, num, 7, missingGen, missingLabel),
			test:  synth(2000, num, 8, missingGen, missingLabel),
			p:     Params{Rounds: 30, MaxDepth: 3},
			min:   0.98,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Train(context.Background(), c.train, nil, c.p)
			if err != nil {
				t.Fatal(err)
			}
			if acc := accuracy(m, c.test); acc < c.min {
				t.Fatalf("test accuracy %.4f < %.2f", acc, c.min)
			}
		})
	}
}

// catGen draws a category in 0..5 and a number; catLabel is true for
// categories {1,3,4} when x > 0, and for the others when x <= 0.
func catGen(r *rand.Rand, x []float64) { x[0], x[1] = float64(r.IntN(6)), r.Float64()*2-1 }
func catLabel(x []float64) float64 {
	in := x[0] == 1 || x[0] == 3 || x[0] == 4
	return b2f(in == (x[1] > 0))
}

// missingGen hides feature a in 30% of rows; the label is 1 exactly when a
// is missing or a > 0.5.
func missingGen(r *rand.Rand, x []float64) {
	for j := range x {
		x[j] = r.Float64()*2 - 1
	}
	if r.Float64() < 0.3 {
		x[0] = math.NaN()
	}
}
func missingLabel(x []float64) float64 { return b2f(math.IsNaN(x[0]) || x[0] > 0.5) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func mixedData(n int, seed uint64) *Data {
	feats := []Feature{{Name: "a"}, {Name: "b"}, {Name: "c", Categorical: true}, {Name: "d"}}
	return synth(n, feats, seed, func(r *rand.Rand, x []float64) {
		x[0] = r.NormFloat64()
		x[1] = math.Round(r.Float64() * 20)
		x[2] = float64(r.IntN(7))
		x[3] = r.Float64()
		if r.Float64() < 0.1 {
			x[0] = math.NaN()
		}
		if r.Float64() < 0.05 {
			x[2] = math.NaN()
		}
	}, func(x []float64) float64 {
		z := 0.8*x[1]/20 - 0.5
		if !math.IsNaN(x[0]) {
			z += x[0]
		}
		if x[2] == 2 || x[2] == 5 {
			z += 1
		}
		return b2f(z+0.3*math.Sin(9*x[3]) > 0.2)
	})
}

func encoded(t *testing.T, m *Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDeterministicForSeed(t *testing.T) {
	d := mixedData(20000, 11)
	p := Params{Rounds: 15, MaxDepth: 5, Subsample: 0.8, ColSample: 0.75, EarlyStopping: 5, Seed: 42}
	var models [][]byte
	for _, threads := range []int{1, 2, 4, 1} {
		p.Threads = threads
		m, err := Train(context.Background(), d, nil, p)
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, encoded(t, m))
	}
	for i := 1; i < len(models); i++ {
		if !bytes.Equal(models[0], models[i]) {
			t.Fatalf("run %d differs from run 0 with the same seed", i)
		}
	}
	p.Seed = 43
	m, err := Train(context.Background(), d, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(models[0], encoded(t, m)) {
		t.Fatal("a different seed gave the same model despite subsampling")
	}
}

func TestRoundTripAndScorer(t *testing.T) {
	d := mixedData(5000, 12)
	layouts := map[bool]int{}
	defer func() {
		if layouts[true] == 0 || layouts[false] == 0 {
			t.Errorf("layouts exercised: general %d, perfect %d; want both", layouts[true], layouts[false])
		}
	}()
	for _, p := range []Params{
		{Rounds: 20, MaxDepth: 4},
		{Rounds: 10, MaxDepth: -1, MaxLeaves: 200, MinChildWeight: 0.1}, // deep: general layout
		{Rounds: 10, MaxDepth: 6, MaxLeaves: 12, Alpha: 0.5, Loss: LossSquared},
	} {
		m, err := Train(context.Background(), d, nil, p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(bytes.NewReader(encoded(t, m)))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Fatalf("round trip changed the model (-want +got):\n%s", diff)
		}
		s := Compile(got)
		if deep := m.MaxDepth() > perfectDepth; deep != (s.depth == 0) {
			t.Fatalf("model depth %d compiled to layout depth %d", m.MaxDepth(), s.depth)
		}
		layouts[s.depth == 0]++
		test := mixedData(3000, 13)
		rows := rowsOf(test)
		flat := make([]float64, 0, len(rows)*4)
		for _, x := range rows {
			flat = append(flat, x...)
		}
		// Unseen and odd category codes too.
		flat[2], flat[6], flat[10] = 9, -1, 2.5
		rows[0][2], rows[1][2], rows[2][2] = 9, -1, 2.5
		out := make([]float64, len(rows))
		if err := s.PredictBatch(flat, out); err != nil {
			t.Fatal(err)
		}
		for i, x := range rows {
			want := m.Predict(x)
			if math.Abs(out[i]-want) > 1e-9 || math.Abs(s.Predict(x)-want) > 1e-9 {
				t.Fatalf("params %+v row %d: scorer %v, model %v", p, i, out[i], want)
			}
		}
	}
}

func TestDecodeRefusesOtherVersions(t *testing.T) {
	m, err := Train(context.Background(), mixedData(500, 1), nil, Params{Rounds: 2})
	if err != nil {
		t.Fatal(err)
	}
	b := encoded(t, m)
	newer := bytes.Replace(b, []byte(`"version":1`), []byte(`"version":2`), 1)
	if _, err := Decode(bytes.NewReader(newer)); !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("decoding version 2: %v, want ErrVersion naming the version", err)
	}
	other := bytes.Replace(b, []byte(Format), []byte("xgboost"), 1)
	if _, err := Decode(bytes.NewReader(other)); err == nil || !strings.Contains(err.Error(), "format") {
		t.Fatalf("decoding another format: %v", err)
	}
}

func TestContributionsSumToMargin(t *testing.T) {
	d := mixedData(3000, 14)
	m, err := Train(context.Background(), d, nil, Params{Rounds: 25, MaxDepth: 5, Subsample: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range rowsOf(mixedData(200, 15)) {
		phi := m.Contributions(x)
		sum := 0.0
		for _, v := range phi {
			sum += v
		}
		if math.Abs(sum-m.Margin(x)) > 1e-9 {
			t.Fatalf("row %d: contributions sum to %v, margin %v", i, sum, m.Margin(x))
		}
	}
}

// TestContributionsMatchBruteForce checks TreeSHAP against the Shapley
// formula evaluated by enumerating coalitions, with the cover-weighted
// conditional expectation TreeSHAP defines.
func TestContributionsMatchBruteForce(t *testing.T) {
	d := mixedData(2000, 16)
	m, err := Train(context.Background(), d, nil, Params{Rounds: 3, MaxDepth: 4})
	if err != nil {
		t.Fatal(err)
	}
	M := len(m.Features)
	fact := func(n int) float64 {
		f := 1.0
		for i := 2; i <= n; i++ {
			f *= float64(i)
		}
		return f
	}
	for _, x := range rowsOf(mixedData(20, 17)) {
		value := func(set int) float64 {
			v := m.Base
			for ti := range m.Trees {
				v += m.Trees[ti].condExp(x, set, 0)
			}
			return v
		}
		phi := m.Contributions(x)
		for i := range M {
			want := 0.0
			for set := 0; set < 1<<M; set++ {
				if set>>i&1 == 1 {
					continue
				}
				k := 0
				for j := range M {
					k += set >> j & 1
				}
				w := fact(k) * fact(M-k-1) / fact(M)
				want += w * (value(set|1<<i) - value(set))
			}
			if math.Abs(phi[i]-want) > 1e-9 {
				t.Fatalf("feature %d: TreeSHAP %v, brute force %v", i, phi[i], want)
			}
		}
	}
}

// condExp is E[tree(x) | features in set fixed], with the cover-weighted
// average over the subtrees of splits on free features.
func (t *Tree) condExp(x []float64, set, i int) float64 {
	n := &t.Nodes[i]
	if n.IsLeaf() {
		return n.Value
	}
	if set>>n.Feature&1 == 1 {
		if n.goLeft(x[n.Feature]) {
			return t.condExp(x, set, n.Left)
		}
		return t.condExp(x, set, n.Right)
	}
	l, r := &t.Nodes[n.Left], &t.Nodes[n.Right]
	return (l.Cover*t.condExp(x, set, n.Left) + r.Cover*t.condExp(x, set, n.Right)) / n.Cover
}

func TestEarlyStopping(t *testing.T) {
	// Pure noise labels: validation loss stops improving quickly.
	d := synth(3000, []Feature{{Name: "a"}, {Name: "b"}}, 21, func(r *rand.Rand, x []float64) {
		x[0], x[1] = r.Float64(), r.Float64()
	}, func([]float64) float64 { return 0 })
	r := rand.New(rand.NewPCG(3, 3))
	for i := range d.Label {
		d.Label[i] = b2f(r.Float64() < 0.3)
	}
	m, err := Train(context.Background(), d, nil, Params{Rounds: 500, EarlyStopping: 10, LearningRate: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if m.BestRound == 0 || len(m.Trees) != m.BestRound || len(m.ValidLoss) >= 500 {
		t.Fatalf("best round %d, %d trees, %d rounds run", m.BestRound, len(m.Trees), len(m.ValidLoss))
	}
}

func TestInvalidInput(t *testing.T) {
	good := func() *Data { return mixedData(50, 1) }
	cases := []struct {
		name string
		mod  func(d *Data, p *Params)
		want string
	}{
		{"label", func(d *Data, p *Params) { d.Label[3] = 2 }, "label of row 3"},
		{"inf", func(d *Data, p *Params) { d.Columns[0][4] = math.Inf(1) }, `feature "a" row 4`},
		{"code", func(d *Data, p *Params) { d.Columns[2][5] = 1.5 }, `categorical feature "c" row 5`},
		{"length", func(d *Data, p *Params) { d.Columns[1] = d.Columns[1][:3] }, `feature "b" has 3 values`},
		{"lr", func(d *Data, p *Params) { p.LearningRate = 2 }, "learning rate"},
		{"bins", func(d *Data, p *Params) { p.MaxBins = 300 }, "max bins"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, p := good(), Params{Rounds: 2}
			c.mod(d, &p)
			_, err := Train(context.Background(), d, nil, p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, mixedData(100, 1), nil, Params{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func FuzzDecode(f *testing.F) {
	m, err := Train(context.Background(), mixedData(300, 2), nil, Params{Rounds: 3, MaxDepth: 3})
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":"sextant-gbdt","version":1,"model":{"loss":"logistic","features":[{"name":"a"}],"base":0,"trees":[{"nodes":[{"feature":0,"threshold":1,"left":1,"right":2,"cover":1},{"feature":-1,"cover":1},{"feature":-1,"cover":0}]}],"params":{}}}`))
	f.Add([]byte(`{"format":"sextant-gbdt","version":1,"model":{"loss":"logistic","features":[{"name":"a"}],"trees":[{"nodes":[{"feature":0,"left":0,"right":0,"cover":1}]}]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		// A model that decodes must score and explain any row without
		// panicking, and the compiled scorer must agree with it.
		s := Compile(m)
		for _, fill := range []func(i int) float64{
			func(i int) float64 { return float64(i) - 0.5 },
			func(i int) float64 { return float64(i % 3) },
			func(i int) float64 { return math.NaN() },
			func(i int) float64 { return float64(300 - i) },
		} {
			x := make([]float64, len(m.Features))
			for i := range x {
				x[i] = fill(i)
			}
			want := m.Predict(x)
			got := s.Predict(x)
			if !(math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))) && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Fatalf("row %v: scorer %v, model %v", x, got, want)
			}
			m.Contributions(x)
		}
	})
}

func BenchmarkTrain(b *testing.B) {
	d := mixedData(50000, 30)
	for b.Loop() {
		if _, err := Train(context.Background(), d, nil, Params{Rounds: 50, MaxDepth: 6}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScore measures batch scoring of a 100-tree depth-6 model; the
// rows/s metric is per goroutine (the benchmark is single-threaded).
func BenchmarkScore(b *testing.B) {
	d := mixedData(50000, 31)
	m, err := Train(context.Background(), d, nil, Params{Rounds: 100, MaxDepth: 6, MinChildWeight: 0.1})
	if err != nil {
		b.Fatal(err)
	}
	s := Compile(m)
	rows := rowsOf(d)
	flat := make([]float64, 0, len(rows)*4)
	for _, x := range rows {
		flat = append(flat, x...)
	}
	out := make([]float64, len(rows))
	b.ResetTimer()
	for b.Loop() {
		if err := s.PredictBatch(flat, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func TestSquaredLossRegression(t *testing.T) {
	f := func(x []float64) float64 { return 3*x[0] - 2*math.Abs(x[1]) }
	gen := func(r *rand.Rand, x []float64) { x[0], x[1] = r.Float64()*2-1, r.Float64()*2-1 }
	feats := []Feature{{Name: "a"}, {Name: "b"}}
	train, test := synth(5000, feats, 40, gen, f), synth(1000, feats, 41, gen, f)
	m, err := Train(context.Background(), train, nil, Params{Loss: LossSquared, Rounds: 300, MaxDepth: 4, LearningRate: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	var se, sv, mean float64
	for _, y := range test.Label {
		mean += y / float64(len(test.Label))
	}
	for i, x := range rowsOf(test) {
		d := m.Predict(x) - test.Label[i]
		se += d * d
		sv += (test.Label[i] - mean) * (test.Label[i] - mean)
	}
	if r2 := 1 - se/sv; r2 < 0.99 {
		t.Fatalf("R² %.4f on a smooth function", r2)
	}
}
