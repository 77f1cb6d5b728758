package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/web"
)

const quarantineUsage = `Usage: sextant docs quarantine [list] [--all] [--json]
       sextant docs quarantine release ID [--note TEXT]

Documents whose chunks tried to instruct the model (indirect prompt
injection) are quarantined when the answer path retrieves them: they are
left out of every search until a person reviews and releases them. The
document itself stays in the store unchanged. list shows the active
quarantines (--all: released ones too, with who released them and when);
release ends one (recorded in the audit log).

Flags:
`

func runDocsQuarantine(ctx context.Context, e *env, args []string) error {
	sub := "list"
	if len(args) > 0 && (args[0] == "list" || args[0] == "release") {
		sub, args = args[0], args[1:]
	}
	fs := newFlagSet("docs quarantine "+sub, e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), quarantineUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	all := fs.Bool("all", false, "list: released quarantines too")
	asJSON := fs.Bool("json", false, "list: print JSON")
	note := fs.String("note", "", "release: the reviewer's comment, recorded with the release")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case sub == "list" && len(pos) > 0:
		return usageErrorf("docs quarantine: unknown subcommand %q (want list or release)", pos[0])
	case sub == "release" && len(pos) != 1:
		return usageErrorf("docs quarantine release: name one document id")
	}
	st, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	if sub == "release" {
		actor := localActor(e)
		q, err := st.ReleaseQuarantine(ctx, pos[0], actor, *note, time.Now())
		if err != nil {
			return err
		}
		log, err := openAuditLog(*dataDir, st)
		if err != nil {
			return err
		}
		_, aerr := log.Append(ctx, sextant.AuditEvent{Kind: sextant.AuditPolicy, Actor: actor, Tenant: q.Tenant, Payload: map[string]any{
			"stage": "retrieval", "action": "release", "document": q.DocumentID, "note": q.Note}})
		if err := log.Close(ctx); aerr == nil {
			aerr = err
		}
		if aerr != nil {
			return fmt.Errorf("docs quarantine release: released, but the audit record failed: %w", aerr)
		}
		fmt.Fprintf(e.stdout, "released %s (quarantined %s: %s); a running server includes it again within a second\n",
			q.DocumentID, q.CreatedAt.Local().Format("2006-01-02 15:04"), q.Reason)
		return nil
	}
	qs, err := st.Quarantines(ctx, sqlite.QuarantineFilter{Tenant: "*", All: *all})
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]web.Quarantined, 0, len(qs))
		for i := range qs {
			out = append(out, web.NewQuarantined(&qs[i]))
		}
		return writeJSON(e.stdout, out)
	}
	if len(qs) == 0 {
		fmt.Fprintln(e.stdout, "no documents in quarantine")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DOCUMENT\tSCORE\tQUARANTINED\tSTATUS\tREASON")
	for _, q := range qs {
		status := "active"
		if !q.Active() {
			status = "released by " + q.ReleasedBy + " " + q.ReleasedAt.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t%s\n", q.DocumentID, q.Score, q.CreatedAt.Local().Format("2006-01-02 15:04"), status, clip(q.Reason, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, q := range qs {
		if q.Active() && q.Excerpt != "" {
			fmt.Fprintf(e.stdout, "\n%s (%s): %s\n", q.DocumentID, q.ChunkID, q.Excerpt)
		}
	}
	return nil
}
