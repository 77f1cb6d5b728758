package eval

import (
	"strings"
	"sync"

	"github.com/kljensen/snowball/english"
)

// tables holds the word lists of the groundedness scorer, built once and
// never modified.
type tables struct {
	stop         map[string]bool    // function words
	common       map[string]bool    // very frequent content words
	cues         map[string]bool    // negation cues
	negatedForms map[string]string  // "unchanged" → "changed" (negated)
	scopeBreak   map[string]bool    // words that end a negation's scope
	numberWords  map[string]float64 // "seven" → 7
	scales       map[string]float64 // "million" → 1e6
	synonyms     map[string]string  // stem → synonym group key
	antonyms     map[string][]string
}

var loadTables = sync.OnceValue(buildTables)

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

func buildTables() *tables {
	tb := &tables{
		stop:         set(stopWords),
		common:       set(commonWords),
		cues:         set(negationCues),
		scopeBreak:   set("but however whereas although though while yet except unlike instead rather nevertheless nonetheless"),
		negatedForms: map[string]string{},
		numberWords:  map[string]float64{},
		scales:       map[string]float64{"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "hundred": 100},
		synonyms:     map[string]string{},
		antonyms:     map[string][]string{},
	}
	for i, w := range strings.Fields("zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen") {
		if w != "_" {
			tb.numberWords[w] = float64(i)
		}
	}
	for i, w := range strings.Fields("twenty thirty forty fifty sixty seventy eighty ninety") {
		tb.numberWords[w] = float64(20 + 10*i)
	}
	tb.numberWords["dozen"] = 12
	for _, p := range strings.Fields(negatedForms) {
		neg, base, _ := strings.Cut(p, ":")
		tb.negatedForms[neg] = base
	}
	stem := func(w string) string { return english.Stem(foldWord(w), false) }
	for _, line := range strings.Split(strings.TrimSpace(synonymGroups), "\n") {
		words := strings.Fields(line)
		key := "~" + stem(words[0])
		for _, w := range words {
			tb.synonyms[stem(w)] = key
		}
	}
	keyOf := func(w string) string {
		s := stem(w)
		if k, ok := tb.synonyms[s]; ok {
			return k
		}
		return s
	}
	for _, line := range strings.Split(strings.TrimSpace(antonymPairs), "\n") {
		a, b, _ := strings.Cut(line, "|")
		for _, x := range strings.Fields(a) {
			for _, y := range strings.Fields(b) {
				kx, ky := keyOf(x), keyOf(y)
				tb.antonyms[kx] = appendUniq(tb.antonyms[kx], ky)
				tb.antonyms[ky] = appendUniq(tb.antonyms[ky], kx)
			}
		}
	}
	return tb
}

func appendUniq(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// stopWords are function words: they carry no checkable content. Negation
// cues are listed separately and quantifiers such as "all" are kept out of
// coverage but not of the checks.
const stopWords = `a an the and or but if then else of in on at to for from by with as into onto
upon about above below over under between among through during before after since until
within without against toward towards across along around behind beyond near off out up down
is are was were be been being am do does did doing done have has had having will would shall
should can could may might must ought it its itself they them their theirs themselves he him
his himself she her hers herself we us our ours ourselves you your yours yourself yourselves
i me my mine myself this that these those there here which who whom whose what when where why
how whether than so such too very also just only even still yet both either each every any
all some many much more most few fewer less least several other others another same own
one ones thing things something anything everything nothing else etc e g ie eg vs per via
while whereas although though because however thus therefore hence moreover furthermore
indeed further again once already ever quite rather really approximately about around roughly
nearly almost respectively overall generally usually often sometimes well like unlike
mostly largely mainly primarily especially particularly relatively including include includes
included according whose wherein whereby thereby herein thereof upon onto s t
yes ok okay sure hello hi thanks thank please
answer passage passages context document documents text article source sources mentioned
mention mentions stated according based provided information unless`

// commonWords are frequent content words: they count, at half weight.
const commonWords = `make made makes making get gets got take takes took taken give gives given gave go goes
went gone come comes came see seen saw say says said know known knew think thought use used
uses using find found finds show shows showed shown new old good bad high low large small big
great first last long little right left next early late important different same able time
times year years day days way ways part parts case cases number numbers group groups level
levels point points fact area areas place world life people person man men woman women work
works worked result results effect effects study studies studied data report reported
patient patients increase increased decrease decreased change changes changed associated
associate association compared compare comparison control controls include significant
significantly observed observe present presented suggest suggests suggested indicate
indicates indicated analysis analyzed method methods role factor factors type types form
forms process total rate rates value values model models system systems related based
higher lower greater potential possible similar specific including following several
various major common previous recent current main general known particular specific`

// negationCues open a negation's scope.
const negationCues = `not no never none nobody nothing neither nor nowhere without cannot lack lacks lacking
lacked absence absent fail fails failed failing unable non`

// negatedForms are words that are the negation of another word.
const negatedForms = `unchanged:changed unaffected:affected unrelated:related ineffective:effective
insignificant:significant nonsignificant:significant unlikely:likely impossible:possible
inactive:active incorrect:correct unsafe:safe unknown:known undetectable:detectable
undetected:detected unclear:clear dissimilar:similar inconsistent:consistent
insufficient:sufficient unnecessary:necessary uncommon:common infrequent:frequent
unsuccessful:successful inadequate:adequate inappropriate:appropriate unstable:stable
disagree:agree disagrees:agree disagreed:agree unable:able unaware:aware untrue:true
invalid:valid inaccurate:accurate incomplete:complete independent:dependent
unassociated:associated uncorrelated:correlated nonfatal:fatal nontoxic:toxic
nonsmokers:smokers nonsmoker:smoker uninfected:infected untreated:treated
unrestricted:restricted unlimited:limited unavailable:available unsupported:supported
unconfirmed:confirmed disproved:proved disproven:proven`

// synonymGroups are words that paraphrases interchange; one group a line.
// Matching is by Snowball stem, so one form of each word suffices.
const synonymGroups = `
increase rise elevate raise grow boost augment heighten escalate higher greater
decrease reduce decline lower diminish lessen drop fall attenuate shrink smaller lesser
large big huge great substantial considerable sizable vast enormous
small little tiny minor slight modest
cause induce trigger provoke produce generate
inhibit suppress block impede hinder repress restrain
prevent avert forestall preclude avoid
show demonstrate reveal display exhibit
find discover detect identify observe
suggest indicate imply
use utilize employ apply
help aid assist support facilitate
begin began begun start commence initiate launch
end finish terminate conclude
stop halt cease
buy purchase acquire
sell vend
people individuals persons humans
child children kid kids youngster youngsters pediatric paediatric
doctor physician clinician
illness disease disorder sickness ailment malady
death mortality fatality
die perish
drug medication medicine medicament
rapid fast quick swift speedy
important significant crucial critical essential key vital
associate link relate correlate connect
effect impact influence
risk likelihood probability chance odds
method approach technique procedure
build construct erect
create make form establish found
author writer
film movie
city town municipality
country nation
job occupation profession career
famous renowned celebrated notable prominent eminent
award prize honor honour
win won earn
annual yearly
weekly week
monthly month
daily day
choose select pick opt
need require necessitate
enough sufficient adequate
whole entire complete full
main principal primary chief major
correct right accurate
wrong erroneous
happen occur arise
place location site spot
area region zone territory district
speed velocity pace
answer reply response respond
ask inquire query
try attempt endeavor endeavour
get obtain receive gain
keep retain maintain preserve
allow permit enable let
forbid prohibit ban bar
move relocate transfer
leave depart exit quit
tell inform notify
owner proprietor
company firm corporation business enterprise
worker employee staff
student pupil learner
teacher instructor educator
improve enhance ameliorate better
worsen aggravate exacerbate deteriorate
harm damage injure hurt impair
benefit advantage
treat therapy treatment
tumor neoplasm cancer carcinoma malignancy
heart cardiac
kidney renal
liver hepatic
lung pulmonary
brain cerebral
blood hematologic
skin dermal cutaneous
mouse mice murine
female woman women
male man men
pregnant pregnancy gestation
infant newborn neonate baby
elderly aged older
obese obesity
diabetes diabetic
infection infected infectious
level concentration amount quantity
rate frequency incidence
trial study experiment
mutation mutant variant
gene genetic
`

// antonymPairs are words with opposite meanings, "left | right": a claim
// word whose antonym stands in the aligned passage text, under the same
// polarity, contradicts it.
const antonymPairs = `
increase rise elevate raise grow boost augment enhance upregulate up | decrease reduce decline lower diminish lessen drop fall attenuate downregulate down
higher greater more larger bigger | lower less fewer smaller lesser
high | low
maximum most | minimum least
above over | below under
before prior | after following
promote stimulate activate induce accelerate facilitate encourage potentiate | inhibit suppress block impede hinder prevent slow delay deactivate repress antagonize
improve better | worsen impair deteriorate aggravate exacerbate
benefit help | harm hurt damage
gain | loss lose
positive | negative
positively | negatively
strong strengthen | weak weaken
long | short
longer | shorter
fast rapid quick | slow
faster quicker | slower
early | late
earlier | later
stronger | weaker
wider broader | narrower
older | younger
heavier | lighter
largest biggest greatest | smallest least
highest | lowest
longest | shortest
best | worst
fastest quickest | slowest
earliest | latest
oldest | youngest newest
strongest | weakest
widest broadest | narrowest
always | never
first | last
wide broad | narrow
heavy | light
hot warm | cold cool
rich | poor
old | young
open | closed close
accept | reject
allow permit | forbid prohibit ban
include | exclude
agree | disagree
true | false
safe | dangerous hazardous
success succeed | failure fail
win | lose
survive survival alive | die death dead
present presence | absent absence
common frequent | rare uncommon infrequent
likely | unlikely
possible | impossible
significant | insignificant nonsignificant
effective | ineffective
sufficient | insufficient
necessary | unnecessary
resistant resistance | susceptible susceptibility sensitive
agonist | antagonist
overexpression overexpress | underexpression underexpress
hyper | hypo
protect protective protection | harmful
enable | disable
add | remove
male | female
men man | women woman
adult | child
majority | minority
north northern | south southern
east eastern | west western
beginning start | end
inside internal | outside external
upper | lower
acute | chronic
benign | malignant
`
