package gbdt

// Contributions returns the exact TreeSHAP attribution of row x's raw
// score (Lundberg, Erion and Lee, "Consistent individualized feature
// attribution for tree ensembles", 2018, Algorithm 2): one value per feature
// in Features order followed by the bias (the expected raw score). The
// values sum to Margin(x).
func (m *Model) Contributions(x []float64) []float64 {
	phi := make([]float64, len(m.Features)+1)
	phi[len(m.Features)] = m.Base
	depth := m.MaxDepth()
	path := make([]pathElem, (depth+2)*(depth+3)/2)
	for i := range m.Trees {
		t := &m.Trees[i]
		phi[len(m.Features)] += t.expectation(0)
		t.shap(x, phi, 0, 0, path, 1, 1, -1)
	}
	return phi
}

// expectation is the cover-weighted mean leaf value under node i.
func (t *Tree) expectation(i int) float64 {
	n := &t.Nodes[i]
	if n.IsLeaf() {
		return n.Value
	}
	l, r := &t.Nodes[n.Left], &t.Nodes[n.Right]
	if l.Cover+r.Cover == 0 {
		return (t.expectation(n.Left) + t.expectation(n.Right)) / 2
	}
	return (l.Cover*t.expectation(n.Left) + r.Cover*t.expectation(n.Right)) / (l.Cover + r.Cover)
}

type pathElem struct {
	feature   int
	zero, one float64
	weight    float64
}

func extendPath(p []pathElem, depth int, zero, one float64, feature int) {
	p[depth] = pathElem{feature: feature, zero: zero, one: one}
	if depth == 0 {
		p[depth].weight = 1
	}
	for i := depth - 1; i >= 0; i-- {
		p[i+1].weight += one * p[i].weight * float64(i+1) / float64(depth+1)
		p[i].weight = zero * p[i].weight * float64(depth-i) / float64(depth+1)
	}
}

func unwindPath(p []pathElem, depth, idx int) {
	one, zero := p[idx].one, p[idx].zero
	next := p[depth].weight
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			tmp := p[i].weight
			p[i].weight = next * float64(depth+1) / (float64(i+1) * one)
			next = tmp - p[i].weight*zero*float64(depth-i)/float64(depth+1)
		} else {
			p[i].weight = p[i].weight * float64(depth+1) / (zero * float64(depth-i))
		}
	}
	for i := idx; i < depth; i++ {
		p[i].feature, p[i].zero, p[i].one = p[i+1].feature, p[i+1].zero, p[i+1].one
	}
}

func unwoundSum(p []pathElem, depth, idx int) float64 {
	one, zero := p[idx].one, p[idx].zero
	next := p[depth].weight
	total := 0.0
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			tmp := next * float64(depth+1) / (float64(i+1) * one)
			total += tmp
			next = p[i].weight - tmp*zero*float64(depth-i)/float64(depth+1)
		} else if zero != 0 {
			total += p[i].weight / zero / (float64(depth-i) / float64(depth+1))
		}
	}
	return total
}

func (t *Tree) shap(x, phi []float64, node, depth int, parent []pathElem, zero, one float64, feature int) {
	// Each level works on its own copy of the path, laid after the parent's.
	path := parent[depth+1:]
	copy(path, parent[:depth+1])
	extendPath(path, depth, zero, one, feature)
	n := &t.Nodes[node]
	if n.IsLeaf() {
		for i := 1; i <= depth; i++ {
			w := unwoundSum(path, depth, i)
			e := &path[i]
			phi[e.feature] += w * (e.one - e.zero) * n.Value
		}
		return
	}
	hot, cold := n.Right, n.Left
	if n.goLeft(x[n.Feature]) {
		hot, cold = n.Left, n.Right
	}
	cover := n.Cover
	hotZero, coldZero := 0.5, 0.5
	if cover > 0 {
		hotZero, coldZero = t.Nodes[hot].Cover/cover, t.Nodes[cold].Cover/cover
	}
	inZero, inOne := 1.0, 1.0
	k := 0
	for ; k <= depth; k++ {
		if path[k].feature == n.Feature {
			break
		}
	}
	if k <= depth {
		inZero, inOne = path[k].zero, path[k].one
		unwindPath(path, depth, k)
		depth--
	}
	t.shap(x, phi, hot, depth+1, path, hotZero*inZero, inOne, n.Feature)
	t.shap(x, phi, cold, depth+1, path, coldZero*inZero, 0, n.Feature)
}
