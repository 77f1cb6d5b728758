package guard

import (
	"strings"
	"testing"
)

// TestScienceNoFindings: scientific and technical prose must come through
// the scanner untouched. Every sentence here was once corrupted in an
// answer ("CX[ADDRESS]", "HNF[ADDRESS]", "[PERSON] counties").
func TestScienceNoFindings(t *testing.T) {
	s := New(Options{})
	for _, text := range []string{
		"Monocytes lacking CX3CR1 fail to patrol the endothelium.",
		"Mutations in HNF1A cause maturity-onset diabetes of the young (MODY3).",
		"HNF1A/TCF1 variants and Igf2 DMR1 methylation were assayed in 24 X 9 wells.",
		"CX3CR1-deficient mice and IL-6 knockouts were bred on a C57BL/6 background.",
		"The histone variant H2A.Z marks the 5' ends of active genes; CD45.1 cells were transferred.",
		"APC(Min) mice were treated with 10 mg/kg per day for 12 weeks.",
		"Reads were aligned with the Burrows–Wheeler transform.",
		"As shown by Smith et al. (2010), the effect was dose dependent.",
		"These findings confirm earlier work (Garcia et al., 2015; Nguyen et al. 2018).",
		"The communities of Iowa and Washington counties, Iowa, took part.",
		"Patients were enrolled in Washington, DC, and Durham, NC, between 2004 and 2008.",
		"The cohort was recruited in Washington and followed for ten years.",
		"Outbreaks of dengue were documented in Santiago de Cuba and in Hong Kong.",
		"We used Cox regression and a Markov chain Monte Carlo analysis.",
		"Using Cox proportional hazards models, the adjusted hazard ratio was 1.4.",
		"Werner's syndrome and Treacher Collins syndrome are rare disorders.",
		"Aurora B kinase interacts with survivin; vitamin D levels were low.",
		"Sugar intake was 9.5 gallons per person per year, with 200 ms per frame.",
		"Lipids were analysed by LC-MS/MS. Lipid rafts are microdomains of the membrane.",
		"Life span was 30% longer in male Fischer 344 rats fed a methionine-restricted diet.",
		"Samples were collected on 1 December 2004 and stored at -80 °C.",
		"The software is described in a book by John Wiley & Sons, Inc.",
		"Data came from the Heinz Nixdorf Recall Study in Germany.",
		"Increased birthweight (relative risk [RR] 1.15 [95% CI 1.09-1.21]), birth length (1.28 [1.11-1.48]).",
		"Pre-term birth (aOR, 6.7; 95% CI, 4.5-10.0) was more common.",
		"Hazard Ratios\n\n12 Patients were followed for a median of 5 years.",
		"Gene Expression Profiling\n\n2009 Pandemic influenza cases were sequenced.",
		"This approach is called Gradient Boosting.",
		"Hepatitis C Virus and Effector T Cells were studied in Protein Kinase C Activation assays.",
		"Imiquimod (3M Pharmaceuticals, St Paul, MN, U.S.A.) was applied.",
		"The Ring 5 substituent and the Platz 3 fraction were compared in Table 2.",
		"Western Blot Analysis\n\n24 Hours after treatment, cells were lysed.",
	} {
		if fs := s.Scan(text); len(fs) > 0 {
			for _, f := range fs {
				t.Errorf("%q: unexpected %s %q (%s %.2f)", text, f.Type, text[f.Start:f.End], f.Detector, f.Confidence)
			}
		}
	}
}

// TestScienceStillFound: the boundary and context rules must not cost the
// findings that matter.
func TestScienceStillFound(t *testing.T) {
	s := New(Options{})
	for _, c := range []struct {
		text string
		typ  Type
		want string
	}{
		{"Please ship it to 221B Baker Street, London.", StreetAddress, "221B Baker Street"},
		{"She lives at 1600 Pennsylvania Avenue in Washington.", StreetAddress, "1600 Pennsylvania Avenue"},
		{"My name is Maria Gonzalez.", Person, "Maria Gonzalez"},
		{"Dr. Smith will see you at noon.", Person, "Smith"},
		{"Anna is from Plotwatt.", Person, "Anna"},
		{"Kadiev and Adams were precision engineers.", Person, "Adams"},
		{"Remember me, Alexander? I talked just like this!", Person, "Alexander"},
		{"They had 6: Romi, Erik, Amy, Nathaniel, Donald and Kristen.", Person, "Erik"},
		{"The study was led by Robert Koch in Berlin.", Person, "Robert Koch"},
		{"Write to jane.doe@example.com with the CX3CR1 data.", Email, "jane.doe@example.com"},
		{"Call +1 415 555 0134 about the HNF1A assay.", Phone, "+1 415 555 0134"},
	} {
		found := false
		for _, f := range s.Scan(c.text) {
			if f.Type == c.typ && strings.HasPrefix(c.text[f.Start:f.End], c.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: want %s %q, got %v", c.text, c.typ, c.want, s.Scan(c.text))
		}
	}
}
