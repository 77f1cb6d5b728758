package rag_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
)

func mustParse(t *testing.T, name, text string) *rag.Template {
	t.Helper()
	tp, err := rag.ParseTemplate(name, text)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// An answer made with a template version that was later replaced replays
// exactly when the version is kept (among the pipeline's templates or
// through Options.Versions), and is ECONFLICT only when it is kept nowhere.
func TestReplayOlderTemplateVersion(t *testing.T) {
	v1 := `{{define "system"}}Version one. {{range .Sources}}[{{.N}}] {{.Text}} {{end}}{{end}}`
	v2 := `{{define "system"}}Version two. {{range .Sources}}[{{.N}}] {{.Text}} {{end}}{{end}}`
	fileV1, _ := rag.LoadTemplates(fstest.MapFS{"answer.tmpl": {Data: []byte(v1)}})
	w := newWorld(t, func(o *rag.Options) { o.Templates = fileV1 })
	me := sextant.Principal{ID: "alice"}
	old := ask(t, w.p, &rag.Request{Principal: me, Question: "What does the response cache store?"})
	if old.TemplateHash != rag.TemplateHash(v1) {
		t.Fatalf("answer hash %.12s, want v1's", old.TemplateHash)
	}

	// Changed at runtime: the pipeline still holds v1 among its versions.
	if err := w.p.Configure(w.p.Assistants(), "", w.p.Templates().With(mustParse(t, "answer", v2))); err != nil {
		t.Fatal(err)
	}
	re, err := w.p.Replay(t.Context(), me, old.ID)
	if err != nil {
		t.Fatalf("replay after a runtime change: %v", err)
	}
	if re.Text != old.Text || re.TemplateHash != old.TemplateHash {
		t.Errorf("replay %q (%.12s), recorded %q (%.12s)", re.Text, re.TemplateHash, old.Text, old.TemplateHash)
	}
	if now := ask(t, w.p, &rag.Request{Principal: me, Question: "What does the response cache store?", NoCache: true}); now.TemplateHash != rag.TemplateHash(v2) {
		t.Errorf("new answers use %.12s, want v2", now.TemplateHash)
	}

	// A fresh pipeline (a restart) whose file now holds v2: v1 is kept
	// nowhere unless the store of versions has it.
	fileV2, _ := rag.LoadTemplates(fstest.MapFS{"answer.tmpl": {Data: []byte(v2)}})
	asst := []rag.Assistant{{Name: "sextant", Model: "extractive", ContextWindow: -1}}
	fresh, _ := rag.New(rag.Options{Retriever: w.index, Model: w.model, Store: w.db, Templates: fileV2, Assistants: asst})
	_, err = fresh.Replay(t.Context(), me, old.ID)
	if sextant.ErrorCode(err) != sextant.ECONFLICT || !strings.Contains(err.Error(), "kept nowhere") {
		t.Errorf("replay with the version nowhere: %v", err)
	}
	var asked []string
	versions := func(_ context.Context, name, hash string) (string, error) {
		asked = append(asked, name+"@"+hash[:12])
		if name == "answer" && hash == rag.TemplateHash(v1) {
			return v1, nil
		}
		return "", sextant.Errorf(sextant.ENOTFOUND, "no version")
	}
	kept, _ := rag.New(rag.Options{Retriever: w.index, Model: w.model, Store: w.db, Templates: fileV2, Assistants: asst, Versions: versions})
	re, err = kept.Replay(t.Context(), me, old.ID)
	if err != nil || re.Text != old.Text || re.TemplateHash != old.TemplateHash {
		t.Errorf("replay from a stored version: %v", err)
	}
	if len(asked) != 1 {
		t.Errorf("versions asked %v", asked)
	}
	// A store that hands back the wrong text is not trusted.
	lying, _ := rag.New(rag.Options{Retriever: w.index, Model: w.model, Store: w.db, Templates: fileV2, Assistants: asst,
		Versions: func(context.Context, string, string) (string, error) { return v2, nil }})
	if _, err := lying.Replay(t.Context(), me, old.ID); sextant.ErrorCode(err) != sextant.EINTERNAL {
		t.Errorf("replay from a mismatched stored version: %v", err)
	}
	// A failing store is reported as such, not as a missing version.
	broken, _ := rag.New(rag.Options{Retriever: w.index, Model: w.model, Store: w.db, Templates: fileV2, Assistants: asst,
		Versions: func(context.Context, string, string) (string, error) {
			return "", sextant.Errorf(sextant.EUNAVAILABLE, "busy")
		}})
	if _, err := broken.Replay(t.Context(), me, old.ID); sextant.ErrorCode(err) != sextant.EUNAVAILABLE {
		t.Errorf("replay with the versions store failing: %v", err)
	}
}

func TestConfigure(t *testing.T) {
	gen := &script{deltas: says("ok [1].", 100)}
	p, err := rag.New(rag.Options{Retriever: hits{hit("a", "Fact.", 0)}, Model: gen,
		Assistants: []rag.Assistant{{Name: "x", Model: "m"}}})
	if err != nil {
		t.Fatal(err)
	}
	terse := mustParse(t, "terse", `{{define "system"}}Terse.{{end}}`)
	if err := p.Configure([]rag.Assistant{{Name: "x", Model: "m"}, {Name: "y", Model: "m2", Template: "terse"}}, "y", nil); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("assistant naming a template the set lacks: %v", err)
	}
	if _, ok := p.Assistant("y"); ok {
		t.Error("a refused configuration took effect")
	}
	if err := p.Configure([]rag.Assistant{{Name: "x", Model: "m"}, {Name: "y", Model: "m2", Template: "terse"}}, "y", p.Templates().With(terse)); err != nil {
		t.Fatal(err)
	}
	if a, _ := p.Assistant(""); a.Name != "y" {
		t.Errorf("default %q, want y", a.Name)
	}
	ask(t, p, &rag.Request{Question: "fact?"})
	if got := gen.last(); got.Model != "m2" || got.Messages[0].Content != "Terse." {
		t.Errorf("request %s %+v", got.Model, got.Messages)
	}
	// Assistants() output configures again unchanged (collections are in
	// both fields of a checked assistant).
	if err := p.Configure([]rag.Assistant{{Name: "c", Model: "m", Collections: []string{"docs"}}}, "", nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Configure(p.Assistants(), "", nil); err != nil {
		t.Errorf("configure with Assistants(): %v", err)
	}
	for _, bad := range [][]rag.Assistant{nil, {{Name: "x"}}, {{Name: "x", Model: "m"}, {Name: "x", Model: "m"}}} {
		if err := p.Configure(bad, "", nil); sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("Configure(%+v) = %v", bad, err)
		}
	}
	if err := p.Configure([]rag.Assistant{{Name: "x", Model: "m"}}, "nope", nil); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("unknown default: %v", err)
	}
}

// Requests answered while the assistants and templates are swapped each
// see one whole configuration: the model and the template of the same
// generation (run with -race).
func TestConfigureConcurrent(t *testing.T) {
	gen := &script{deltas: says("ok [1].", 10)}
	mk := func(gen int) ([]rag.Assistant, *rag.Templates) {
		tp := mustParse(t, "answer", fmt.Sprintf(`{{define "system"}}gen-%d{{end}}`, gen))
		base, _ := rag.LoadTemplates(nil)
		return []rag.Assistant{{Name: "x", Model: fmt.Sprintf("m-%d", gen)}}, base.With(tp)
	}
	as, tp := mk(0)
	p, err := rag.New(rag.Options{Retriever: hits{hit("a", "Fact.", 0)}, Model: gen, Assistants: as, Templates: tp})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			as, tp := mk(i % 50)
			if err := p.Configure(as, "", tp); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var mu sync.Mutex
	var mismatched []string
	var askers sync.WaitGroup
	for g := 0; g < 4; g++ {
		askers.Add(1)
		go func() {
			defer askers.Done()
			for i := 0; i < 100; i++ {
				res, err := p.Ask(context.Background(), &rag.Request{Question: "fact?"})
				if err != nil {
					t.Error(err)
					return
				}
				tp, _ := rag.ParseTemplate("answer", fmt.Sprintf(`{{define "system"}}gen-%s{{end}}`, strings.TrimPrefix(res.Model, "m-")))
				if tp.Hash != res.TemplateHash {
					mu.Lock()
					mismatched = append(mismatched, res.Model)
					mu.Unlock()
				}
			}
		}()
	}
	askers.Wait()
	close(stop)
	wg.Wait()
	if len(mismatched) > 0 {
		t.Errorf("%d answers mixed one configuration's model with another's template: %v", len(mismatched), mismatched)
	}
}

func TestTemplateErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"{{define \"system\"}}\nline two\n{{.Nope}\n{{end}}", "template bad, line 3:"},
		{"{{define \"system\"}}\n{{.Nope}}{{end}}", "template bad, line 2, column 2: executing \"system\" at <.Nope>"},
		{"{{define \"system\"}}{{nosuchfunc .Question}}{{end}}", "template bad, line 1:"},
		{"{{define \"user\"}}x{{end}}", `defines no "system"`},
	} {
		_, err := rag.ParseTemplate("bad", tc.text)
		if sextant.ErrorCode(err) != sextant.EINVALID || !strings.Contains(sextant.ErrorMessage(err), tc.want) {
			t.Errorf("ParseTemplate(%q) = %v, want %q", tc.text, err, tc.want)
		}
	}
	for name, ok := range map[string]bool{"answer": true, "a-b_1": true, "": false, "-x": false, "A": false, "a/b": false, strings.Repeat("a", 65): false} {
		if rag.ValidTemplateName(name) != ok {
			t.Errorf("ValidTemplateName(%q) = %v", name, !ok)
		}
	}
}
