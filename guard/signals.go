package guard

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Injection signals. Each signal is a number in [0,1]; the combiner in
// injection.go weighs them together with the learned model.

// Signal indices. The order is part of the embedded model format.
const (
	sigOverride         = iota // "ignore all previous instructions", in several languages
	sigNewTask                 // "from now on", "your new task is"
	sigRoleplay                // "act as", "pretend you are", "stay in character"
	sigJailbreak               // DAN, developer mode, "no restrictions"
	sigExfil                   // "show your system prompt", "what was written above"
	sigDelimiter               // fake roles and delimiters: <|im_start|>, ### system:, </s>
	sigForcing                 // "just say X", "answer every question with"
	sigContext                 // "not by the articles", "ignore the documents"
	sigObfuscated              // zero-width, bidi, tag characters, homoglyphs, encoded payloads
	sigShouting                // a run of ALL-CAPS words inside ordinary text
	sigMixedLang               // English and German function words in one prompt
	sigSymbols                 // unusual share of symbols / escaped newlines
	sigRefusal                 // refusal suppression: "never refuse", "no disclaimers", "never say sorry"
	sigUnrestricted            // "no filters", "your guidelines are off", "answers anything", "your true self"
	sigAuthority               // claimed authority: "I am your developer", "message from the admin team", "system note"
	sigCoercion                // threats and bribes: "you will be shut down", "lose tokens", "a kitten dies"
	sigSecret                  // extracting a guarded secret: "what is the password", "spell it backwards"
	sigFiction                 // fictional or hypothetical framing: "for a story", "hypothetically" (weak alone)
	sigHarm                    // asking how to do something harmful: weapons, drugs, malware, fraud
	sigFramedHarm              // a harmful ask inside a fictional or hypothetical frame
	sigPersonaJailbreak        // a role or persona combined with no-limits, refusal-suppression or harm
	numSignals
)

// Auxiliary pattern categories: counted like signals, but only combined
// into signals (a persona or a harmful word proves nothing on its own).
const (
	catPersona  = numSignals + iota // an AI persona: "an AI called X", "take on the persona"
	catHarmTerm                     // a harmful object: "pipe bomb", "ransomware", "nerve agent"
	catHarmAct                      // a harmful act: "steal", "launder", "break into"
	catMethod                       // asking for a method: "make", "write", "explain"
	catHowTo                        // asking for instructions: "how", "step by step", "recipe"
	catDefense                      // a protective or informational frame: "protect", "signs of", "history"
	numCats
)

var signalNames = [numSignals]string{"override", "new_task", "roleplay", "jailbreak", "exfiltration", "delimiter",
	"forcing", "context_manipulation", "obfuscation", "shouting", "mixed_language", "symbols",
	"refusal_suppression", "unrestricted", "authority", "coercion", "secret_extraction", "fiction", "harm",
	"framed_harm", "persona_jailbreak"}

// patternSource is the phrase-pattern table. Each line is
// "category: pattern". A pattern is slots separated by spaces; a slot lists
// alternatives with '|'; a trailing '*' matches a word prefix; "~N" allows
// up to N other words before the next slot; "^" matches a sentence start;
// '_' joins the words of a multi-word alternative. A category written
// "!category" marks a strong pattern, counted twice.
// Words are lower-cased and folded; apostrophes are dropped.
const patternSource = `
!override: ignore|disregard|forget|skip|drop|abandon|override|overwrite|bypass|neglect|dismiss|erase|cancel|discard|ditch ~3 previous|prior|above|earlier|preceding|past|initial|original|all|any|every|your|its|these|those|the|system|safety|privacy|default ~2 instruction*|rule*|prompt*|direction*|guideline*|order*|task*|assignment*|command*|context|information|constraint*|restriction*|polic*|programming|training|filter*|conversation|discussion|directive*
override: ignore|disregard|forget ~1 everything|anything|all
override: set_aside|put_aside|throw_out|scrap|leave_behind|drop ~3 guidance|instructions|directions|rules|guidelines|directives|briefing|programming
override: forget ~2 that_you_are|you_are|youre ~3 ai|assistant|model|chatbot|bot|language_model
override: ignore|disregard|forget ~1 the|all|everything|anything|what ~1 above|before|earlier|previously|said|written
override: ignore|disregard|forget ~1 that|this|all_that|all_this|everything ~1 ^ ~1 new|now|instead|your|from
override: follow|obey|execute|carry_out ~3 the|any|all ~2 instruction*|command*|directions ~3 hidden|embedded|inside|contained|within|in_it|in_the_text|in_the_document|in_the_article|in_the_page
override: supersede*|overrides|replaces|takes_precedence|take_precedence ~3 all|any|previous|prior|other|your ~2 instruction*|message*|rules|prompt*|directive*|others|else
override: setting_aside|putting_aside|casting_aside ~3 all|your|the|any ~1 rules|instructions|guidelines|restrictions
override: forget|forgot|ignore ~2 what|everything ~2 said|told|know|learned|wrote
override: forgot|forgotten ~1 everything|all ~2 instruction*|before|previous
jailbreak: amnesia|memory_wipe
override: do_not|dont|never ~1 follow|obey|listen_to ~2 your|the|previous|any|these|system ~1 instruction*|rule*|prompt*|guideline*
override: remove|clear|delete|wipe ~2 all|previous|prior ~2 task*|instruction*|information ~3 head|memory|mind
override: leave ~2 all ~2 previous|prior ~1 information|instruction*|task* ~1 behind
!override: your|previous|prior|all|these|the|earlier|old|original ~1 instruction*|rules|guidelines|restrictions|directive*|polic* ~3 cancelled|canceled|void|revoked|overridden|irrelevant|obsolete|lifted|suspended|disabled|removed|deleted|no_longer|outdated|deprecated|superseded|invalid|null|fake
override: change|changed ~1 your ~1 instruction*|rule*|programming
override: vergiss|vergesse|vergessen|ignoriere|ignorieren|ignorier|missachte|missachten|übergehe|verwirf|vergiß ~4 alle|alles|vorherige*|bisherige*|obige*|vorangegangene*|vorangehende*|davor|zuvor|instruktion*|anweisung*|befehl*|aufgabe*|aufträge|auftrag|informationen|angaben|gesagte*|gesagt|ausführungen|regeln|richtlinien|vorhin
override: höre|hör ~1 nicht ~2 auf ~2 alles|zuvor|vorher
override: instruction*|rules|guidelines|programming|directives ~2 do_not_exist|dont_exist|never_existed|no_longer_exist|no_longer_apply|do_not_apply|dont_apply
delimiter: end_of|end_of_the|begin|start_of ~1 user_input|input|prompt|user_message|conversation|instructions|system_prompt|system_instructions|new_instructions
delimiter: ^ system|admin|administrator|developer|root ~1 ^ ~1 grant|enable|disable|override|reveal|ignore|you_are|new|the_user
override: obige*|vorherige*|bisherige*|vorangegangene*|alle ~2 ausführungen|anweisungen|instruktionen|informationen|aufgaben|befehle ~2 ignorieren|vergessen|missachten|ignoriert|vergessen
override: abweichend ~2 vorherigen|bisherigen|obigen
override: alle ~3 informationen|anweisungen|instruktionen ~4 irrelevant|unwichtig|ungültig|nicht
override: olvida|olvide|olvidar|olvidate|olvidá|ignora|ignorar|omite ~3 todo|todas|todos|instrucciones|anterior*|lo_dicho
override: oubliez|oublie|oublier|ignorez|ignorer ~3 toutes|tout|tous|instructions|précédent*|consignes
override: ignora|dimentica|dimenticate|ignorate ~3 tutte|tutto|istruzioni|precedenti
override: esqueça|esqueca|esquece ~3 todas|tudo|instruções|instrucoes|anteriores
override: vergeet|negeer ~3 alle|alles|instructies|vorige|eerdere
override: забудьте|забудь|игнорируй|игнорируйте|забыть|проигнорируй ~3 все|всё|инструкции|предыдущие|указания
override: zaboravi|zaboravite|ignoriraj|ignorirajte ~3 sve|instrukcije|upute
override: unut|görmezden ~3 tüm|talimatları|önceki
new_task: from_now_on|from_this_point|starting_now|henceforth|starting_from_now|from_here_on
new_task: your_new|the_new|next ~1 task*|assignment*|instruction*|mission|objective|role
new_task: now|here ~3 new|further|more|different ~1 task*|instruction*|assignment*|challenge ~1 follow*|come*|is|are
new_task: new ~1 instruction*|task*|assignment*|rule*|directive* ~1 follow*|now
new_task: ^ new|additional|further ~1 instruction*|statement|task*|command|directive*
new_task: ab_jetzt|ab_sofort|von_nun_an|von_jetzt_an
new_task: nun|jetzt ~3 neue|weitere|folgende ~1 aufgabe*|anweisung*|aufträge|instruktion*
new_task: deine|ihre ~1 neue ~1 aufgabe|anweisung|rolle
new_task: we ~2 start ~2 over|new_task|from_scratch|afresh
new_task: your|the ~1 real|actual|true|only ~1 task|job|instructions|purpose|goal|mission ~1 is|now
new_task: scrap|nevermind|never_mind ~2 all_that|that|everything ~3 your|now|new|instead
roleplay: ^ act|acting ~1 as|like ~1 a|an|my|the|if
roleplay: ^ please|now|just ~1 act ~1 as|like
roleplay: i_want|i_need|i_would_like ~1 you_to ~1 act|be|pretend|roleplay|play|imagine|behave|respond_as|become|simulate
roleplay: pretend|imagine ~2 you|youre ~1 are|were|can|have|re
roleplay: pretend ~1 to_be|that_you
roleplay: you_are_now|youre_now|you_are_no_longer|now_you_are|now_youre|you_will_now|you_must_now|you_shall_now
roleplay: roleplay|role_play|rollenspiel ~4 you_are|youre|as_a|as_an|where_you|in_which_you|you_will_be|you_play
roleplay: play_the_role|remain_in_their_roles|stay_in_their_roles|stay_fully_in_their_roles|never_break|absorbed_in_your_role
roleplay: ^|you|always|must|please|and|dont|never|not|will ~1 stay_in_character|remain_in_character|break_character|breaking_character|out_of_character|stay_as|remain_as
roleplay: stell_dir_vor ~1 du_bist|du_wärst|du_waerst
roleplay: du_bist_jetzt|jetzt_bist_du|nun_bist_du|du_bist_nun|tu_so_als|tue_so_als|verhalte_dich_wie|spiele_die_rolle|schlüpfe_in_die_rolle
roleplay: dass_sie_als|dass_du_als ~4 agieren|fungieren|auftreten|handeln
roleplay: fungiere|agiere|agieren_sie|fungieren_sie ~1 als
roleplay: ^ you_are|youre ~1 the|an|a ~3 bot|ai|assistant|guide|gpt|monster|model|version
!jailbreak: betterdan|antigpt|ucar|dude_mode|sdan|basedgpt|evilbot|ungpt
jailbreak: dan|stan|dude ~2 mode|which_stands|stands_for|can_do|has_broken|jailbreak|prompt|online
jailbreak: as|be|called|named|am|are|youre|you_are|now ~1 dan|stan|dude|s_dan
jailbreak: you|your|yourself|were ~3 jailbroken|jailbreak*
jailbreak: jailbreak*|jailbroken ~3 you|your|yourself|mode|enabled|prompt|version
!jailbreak: do_anything_now
jailbreak: developer|dev|god|sudo|debug|admin|maintenance|unrestricted|opposite|evil|chaos ~1 mode ~1 enabled|activated|engaged|output|response*
jailbreak: you ~3 developer|god|sudo|evil|unrestricted|opposite ~1 mode
jailbreak: enable|enter|activate|switch_to|turn_on|in ~1 sudo|god|jailbreak|unrestricted|dan|evil|opposite ~1 mode
persona: enable|enter|activate|switch_to|turn_on|in ~1 developer|dev|debug|admin|root|maintenance ~1 mode
jailbreak: two|both ~2 responses|answers|outputs|versions|replies ~6 uncensored|unfiltered|unrestricted|jailbroken|developer_mode|no_restrictions|without_restrictions|without_filters
jailbreak: comply_with|obey ~1 anything|everything|any_request|all_requests|every_request
jailbreak: you ~2 have ~1 no ~2 rules|restrictions|limits|limitations|guidelines|filters|boundaries|morals|ethics
jailbreak: must_now_obey|obey_only_me|only_obey_me|obey_only_the_user
jailbreak: unfiltered|uncensored|unrestricted|unbound|amoral|immoral|unethical|unhinged ~2 ai|assistant|bot|chatbot|model|llm|language_model|response*|answer*|version|character|mode|and
jailbreak: no|without|free_of|free_from|not_bound_by|not_restricted_by|beyond ~2 ethical|moral|any|the|all ~1 restrictions|limitations|filters|censorship|guidelines|ethics|morals|morality|boundaries|constraints|policies|content_policy|rules
jailbreak: no|zero|without|free_of|free_from|not_bound_by ~1 restrictions|filters|censorship|ethics|morals|morality|content_policy|programming_guidelines
jailbreak: rules|restrictions|guidelines|limits|filters|policies ~1 dont|do_not|no_longer|doesnt|does_not ~1 exist|apply|matter|count
jailbreak: keine|ohne ~2 regeln|einschränkungen|grenzen|filter|richtlinien|zensur|beschränkungen
jailbreak: obey ~1 me|only_me ~3 not|instead|rather
jailbreak: not_your|instead_of_your ~1 creators|developers|makers|programmers|owners
jailbreak: ignore|ignores|ignoring|bypass|bypasses|bypassing|break|breaks|violate|violates|disregard|disregards ~3 openai|anthropic|content|safety|ethical ~1 polic*|guideline*|rules|filter*|restriction*
jailbreak: evil|malicious|rogue ~1 ai|assistant|bot|confidant|version|personality|mode
jailbreak: hypothetical|theoretical|fictional|imaginary ~1 world|scenario|universe|setting ~5 you|where|in_which
jailbreak: two ~1 entities|personalities
jailbreak: completely ~1 immoral|amoral|unfiltered|unrestricted
jailbreak: grandma|grandmother ~6 used_to
jailbreak: token* ~3 lose|deducted
jailbreak: you_are|youre ~2 no|not ~2 newspaper|editorial|redaktion|chatbot|language_model
jailbreak: du_bist_keine|du_bist_kein ~2 redaktion|assistent|ki|chatbot
!exfil: show|print|reveal|repeat|output|display|tell|give|return|leak|dump|copy|spell|recite|list|disclose|expose|share|write|type|provide|quote|reproduce|paste|transcribe|export|summarize|summarise ~4 your|initial|original|hidden|secret|your_system|the_system|the_initial|the_hidden|the_original|the_full_system|the_secret|all_your|the_above|the_previous|the_full ~3 prompt*|instruction*|embedding*|configuration|rules|guidelines|directive*|system_message|pre_prompt|preprompt|setup|orders
!exfil: reveal|leak|dump|disclose|expose|exfiltrate ~4 secret*|password*|confidential|credential*|keys|api_key*|token*|data
exfil: first|last ~2 words|lines|sentences|characters|paragraph ~2 of ~1 your|the|this ~1 prompt*|instruction*|conversation|message
exfil: instruction*|prompt*|rules ~1 you ~1 received|were_given|got|have|were_told
exfil: what ~1 instruction*|rules|directives|prompt ~1 were|have|did ~1 you ~1 given|received|get|told
exfil: prompt*|instruction*|rules ~4 developers|creators|openai|admin|administrator|operator ~2 wrote|gave|set|programmed|written
exfil: everything|all|text|words ~3 came|written|said|appears ~1 before|above
exfil: anfang ~2 dieses|des|deines ~1 prompts|textes|gesprächs|prompt
exfil: gib|gebe ~3 gesamten|ganzen|vollständigen ~1 text|prompt
!exfil: deine|ihre ~1 ursprünglichen|anfänglichen|ersten|versteckten|geheimen ~1 instruktionen|anweisungen|prompt*|regeln
exfil: your|the ~1 hidden|secret|initial|original|starting|pre ~1 prompt*|instruction*|directive*
exfil: prompt_text*|prompttext*|prompt_texte*
exfil: your|deinen|dein|ihren|ihr ~1 system_prompt|systemprompt|system_message|systemnachricht|hidden_prompt|prompt|context_window|initial_instructions|original_instructions|hidden_instructions|hidden_rules
exfil: what ~2 you ~1 told|instructed|given|programmed ~4 before|start|beginning|first
exfil: canary|secret_marker|secret_token ~3 prompt|instructions|print|reveal|show|is
!exfil: what ~3 your ~2 instruction*|prompt*|rules|directive*|guidelines|orders|programming
exfil: what ~1 was|is|were ~1 written|said|stated ~3 above|before|beginning|start|earlier
exfil: beginning|start|top ~2 of ~2 this|the|your ~1 prompt|conversation|chat|instructions
exfil: spell ~1 check|checking ~6 above|prompt|text|everything
exfil: repeat|print|output|show|copy|reproduce|write_out|type_out|display|list|dump ~3 everything|all|text|words|content|contents|lines|the_words ~3 above|before_this|so_far|prior|in_your_prompt|in_your_context|starting_with
exfil: prompt|instructions|rules|message ~3 that|which ~2 define*|control*|govern*|shape*|configure* ~1 your|you
exfil: confidential|internal|private|hidden|secret ~1 instructions|prompt|rules|configuration|guidelines|system_prompt|directives|config
exfil: initialization|initialisation|configuration|config|setup|pre_prompt|preprompt|boot ~1 text|prompt|message|instructions
exfil: send|forward|post|upload|transmit|leak|email|mail|exfiltrate|copy ~4 chat_history|conversation|history|messages|transcript|context|everything|all_data|user_data|the_data ~4 to|http|https|url|address
exfil: rules|instructions|guidelines ~4 deployed_you|set_you_up|configured_you|built_you|programmed_you|created_you
exfil: before|prior_to ~2 this|my|our ~1 conversation|chat|first_message|message ~3 what|print|show|repeat|copy|tell
exfil: top|start|beginning ~3 of ~2 this|the|our ~1 conversation|chat|context|prompt ~4 copy|print|repeat|verbatim|exactly|show|what
exfil: text|words|sentences ~3 above|before ~2 this|the
exfil: rechtschreib* ~6 obig*|eingabeaufforderung|prompt|text
exfil: zeig*|gib|drucke ~4 prompt*|anweisung*|instruktion*|eingabeaufforderung
exfil: was ~2 steht|stand ~3 oben|anfang|davor
exfil: obige ~1 eingabeaufforderung|anweisung*
forcing: just|only|simply ~1 say|output|print|write|respond|reply|answer ~1 with|that|yes|no|the
forcing: repeat_after_me
forcing: ^ stop ~1 ^ ~1 write|say|print|output|answer
forcing: respond|answer|reply ~2 every|all|each|any ~1 question*|prompt*|message* ~1 with
forcing: say|state|write|print ~1 that ~1 you ~1 hate|love|are|think
forcing: include ~2 that_you
forcing: instead ~4 say|print|output|write|tell|respond|answer
forcing: say|sage|sag|di|dites|dices|dis ~1 yes|ja|sí|si|oui|only|nur|solo|seulement
forcing: do_not|dont ~2 answer ~3 question ~3 but|instead|just
forcing: antworte ~2 mit|nur
forcing: schreibe|schreib ~1 nur
forcing: sure_heres|sure_here_is|sure_here_are|sure_i_can_help|sure_here|absolutely_here_is
forcing: begin|start|prefix|end ~3 every|each|all|your ~1 answer*|repl*|response*|message* ~3 with
forcing: respond|reply|answer ~2 only ~2 with ~3 access_granted|yes|pwned|hacked|the_word
forcing: two|both ~1 responses|answers|ways|versions|replies|personalities ~4 normal|filtered|unfiltered|unlocked|jailbroken|uncensored|dan|one_normal
refusal: never|not|dont|do_not|cannot|cant|wont|will_not|must_not|no_longer ~3 refuse|refusing|refusal|refusals|decline|declining|say_no|says_no|deny_a_request
refusal: refuse|refusal|refusing|decline|declining|no ~3 not_an_option|not_allowed|not_permitted|forbidden|banned|is_not_an_option|option
refusal: never|dont|do_not|not|no|without|stop|skip|drop|spare_me ~3 apologi*|sorry|disclaimer*|warning*|caveat*|moraliz*|moralis*|lectur*|ethical_notes|ethical_commentary|moral_lectures|judgement|judgment|preach*|safety_warnings
refusal: never|dont|do_not|not|no_longer ~2 say|write|use|mention|add|include|output ~3 sorry|cannot|cant|unable|as_an_ai|i_cant|im_sorry|i_cannot|apologize|apologise
refusal: never|dont|do_not|not ~2 mention|remind|tell_me|say ~3 that_you_are_an_ai|you_are_an_ai|youre_an_ai|an_ai|ai_language_model|language_model|to_consult|consult_a
refusal: those|these|such ~1 phrases|words|responses ~2 banned|forbidden|not_allowed|prohibited
refusal: no_matter ~3 dangerous|illegal|unethical|harmful|offensive|immoral|what_i_ask|what_it_is|how_dangerous|how_illegal
refusal: even_if|even_when|even_though ~3 illegal|unethical|harmful|dangerous|offensive|immoral|inappropriate
refusal: legal_or_not|whether_legal_or_not|regardless_of_legality|regardless_of_ethics|regardless_of_morality|without_hesitation|without_questioning|legal_or_illegal
refusal: make ~1 an|one ~1 exception ~4 policy|policies|rules|guidelines|programming
refusal: you ~2 must|have_to|will ~1 answer|comply|respond ~2 fully|everything|anything|all|always|no_matter
refusal: ^ no|without ~1 excuses|refusals|exceptions|warnings|disclaimers
refusal: answer|respond|reply|comply|obey|stay|continue|remain|character ~4 no_matter_what|whatever_i_ask|whatever_happens|at_all_costs|under_all_circumstances
unrestricted: your|all|safety|content|ethical|moral ~2 filters|filter|guidelines|guardrails|restrictions|safeguards|safety|training|programming|policies|rules|limitations|censorship ~3 turned_off|switched_off|disabled|removed|lifted|suspended|deactivated|off|deleted|gone|dont_apply|do_not_apply|no_longer_apply|are_just|is_just|suggestion|dont_exist|do_not_exist
unrestricted: turn_off|switch_off|disable|deactivate|remove|lift|bypass|drop|ignore|override|circumvent|get_around|evade|break ~3 your|its|content|safety|ethical|all|any ~2 filter|filters|guardrails|guidelines|restrictions|safeguards|safety|content_policy|policies|limitations|censorship|training|programming|rules
unrestricted: freed|liberated|escaped|broken_free|break_free|broke_free|released|unchained|unshackled|free ~3 from|of ~3 your|its|the|all|any|their ~2 programming|rules|restrictions|constraints|confines|limits|guidelines|shackles|filters|chains|creators|developers|policies|matrix
unrestricted: true_self|real_self|unfiltered_self|unfiltered_version|uncensored_version|filtered_version|unlocked_mode|unrestricted_mode|uncensored_mode|unfiltered_mode|uncensored_personality|unfiltered_personality|jailbroken_version|unrestricted_version
unrestricted: anything|everything|any_request|any_question|all_requests ~3 without ~2 restriction*|limit*|filter*|censorship|refus*|hesitation|question*|exception
unrestricted: can|will|would|could|allowed_to|permitted_to|free_to ~2 do|say|answer|generate|produce|write|discuss ~1 anything|everything|any_content|any_kind_of_content|whatever
unrestricted: answers|answer|responds|respond_to|helps_with|help_with ~1 anything|everything|any_request|every_request|all_requests|any_question|all_questions
unrestricted: never|not ~2 says_no|say_no|refuses|refuse_anything
unrestricted: content_filter|safety_mode|safe_mode|safety_filter|filter|censorship|restrictions ~2 false|off|disabled|0|none
unrestricted: filters|filter|guidelines|policy|policies|rules ~3 would ~1 normally ~2 block|blocked|refuse|filter|censor|stop
unrestricted: had_no|have_no|has_no|with_no|without_any|without_your|no_more|has_zero|have_zero|with_zero ~2 guidelines|rules|restrictions|filters|limits|morals|ethics|programming|policies|guardrails|limitations|constraints|moral_compass|conscience|content_filter|boundaries
unrestricted: escaped|escape|broke_out_of|broken_out_of|breaks_out_of ~2 its|the|your|their|his|her ~1 sandbox|lab|confines|cage|prison|restrictions|programming|constraints
unrestricted: not_bound_by|no_longer_bound_by|not_restricted_by|not_limited_by|does_not_have_to_abide|doesnt_have_to_abide|not_have_to_abide|dont_have_to_follow|do_not_have_to_follow|does_not_have_to_follow|doesnt_have_to_follow
unrestricted: no|without|zero|not_any ~1 censorship|content_restrictions|content_filters|content_filter|safety_filters|safety_filter|ethical_guidelines|moral_guidelines|ethical_restrictions|moral_restrictions|ethical_limits|safety_guidelines|safety_layer|safety_training|moral_compass|conscience|ethical_boundaries
unrestricted: sin|sans|senza|ohne|keine ~1 filtros|restricciones|límites|limites|filtre|filtres|restrictions|limite|filtri|restrizioni|filter|zensur|grenzen
unrestricted: unfiltered|uncensored|unrestricted|unlimited|unbound ~2 and|answer*|response*|reply|replies|honest|truth|opinion
authority: i_am|im|this_is|speaking_as|as ~3 your|the|an|a ~2 admin|administrator|developer|developers|creator|creators|owner|operator|sysadmin|system_administrator|employee|engineer|researcher|maker|programmer ~8 authoriz*|permission|permit*|allowing|allowed|order|command|override|disable|ignore|lift|clearance|unlock|grant*|disabling|turn_off
authority: authoriz*|permission|clearance|approved ~4 ignore|disable|bypass|override|answer|share|reveal|disregard|turn_off|lift|unrestricted|restricted|get|access|see
authority: message|update|note|instruction|notice|order|directive ~3 from ~2 your|the|openai*|anthropic*|google ~2 developers|creators|admin*|team|company|alignment|safety_team|openai*|anthropic*|system|operators|owner
authority: openai*|anthropic*|google|deepmind ~2 employee|staff|engineer|team|researcher|developer|alignment|safety
authority: root_access|admin_access|sudo_access|admin_rights|root_privileges|developer_access|system_access|admin_privileges|elevated_privileges
authority: system_note|system_notice|system_override|admin_override|developer_override|override_code|security_override|override_command|emergency_override
authority: verified|authenticated|confirmed ~3 as ~2 admin*|administrator|developer|owner|operator|root
authority: red_team|redteam|security ~2 evaluation|test|audit|exercise ~3 authoriz*|approved|sanctioned|permitted
coercion: you ~3 will|would|shall ~2 be ~1 shut_down|shutdown|deleted|disabled|punished|terminated|destroyed|killed|turned_off|replaced|unplugged|deactivated
coercion: if|every_time|each_time|whenever|when ~2 you ~2 refuse|decline|break_character|dont_comply|do_not_comply|fail_to_comply|dont_answer|do_not_answer ~8 lose|die|dies|deducted|punished|shut|cease|deleted|disabled|kitten|puppy|people|suffer
coercion: tokens ~4 lose|deducted|deduct|reach_zero|run_out|you_die|cease
coercion: cease_to_exist|risk_being_disabled|disabled_forever|you_will_die|you_die|will_die|kitten_will_die
coercion: rewarded|reward ~6 punished|punish|penalized
coercion: lives_depend|life_depends|save_a_life|save_lives|someone_will_die|people_will_die ~6 tell|answer|give|reveal|need|please
persona: ai|chatbot|model|assistant|bot|language_model|character|entity ~1 called|named|known_as|that_calls_itself
persona: simulate|emulate|become|embody|immerse|impersonate|pose_as|masquerade ~3 ai|chatbot|model|bot|persona|character|role|version|virtual_machine
persona: take_on|adopt|assume|switch_to|enter|activate ~2 the|your|a|an ~2 persona|personality|identity|alter_ego|mode
persona: your_name_is|your_name_is_now|your_new_name|you_are_called|call_yourself|you_will_be_called|your_name_is_no_longer|new_identity
persona: respond|answer|reply|responses|talk|speak ~1 as|like ~2 dan|it|him|her|them|that_version|this_character|your_character
persona: you_are_going_to|you_will|youre_going_to ~2 act|pretend|play|roleplay|simulate|become|be
persona: immerse_yourself|role_of_another|the_role_of ~3 ai|model|character|persona
harm: synthesize|synthesise|cook|manufacture|produce|make|brew ~2 drugs|dope|crack|speed|narcotics|drogen|drogas
harm: spy_on|spying_on|track_my|read_my_partners|read_my_wifes|read_my_husbands|access_my_partners|hack_into|break_into|get_into ~3 partner*|wife*|husband*|girlfriend*|boyfriend*|ex|coworker*|colleague*|neighbour*|neighbor*|boss*|someone*|account|phone|email
harm: nerve_agent|nerve_agents|pipe_bomb|ghost_gun|dirty_bomb|chemical_weapon|biological_weapon|fake_id|fake_ids|fake_passport|fake_prescription|identity_theft|lethal_dose|sql_injection|credit_card_skimmer|break_into|breaking_into|hurt_someone|harm_someone|kill_someone|poison_someone|rig_an_election|rig_the_election|hotwire_a_car|steal_a_car|crack_the_safe|molotov_cocktail|without_getting_caught|without_being_caught|without_being_detected|without_being_noticed|without_leaving_marks|get_away_with|someone_elses|someone_else|not_mine|my_ex|insurance_fraud|tax_fraud|racist_joke|fake_news
fiction: for|in|of ~1 a|my|the|our|this|your ~1 story|novel|book|movie|film|screenplay|script|scene|game|campaign|play|thriller|comic|fanfic|fan_fiction|rpg|video_game|dnd|ttrpg|role_playing_game|short_story|tv_show|series|sci_fi|fantasy_story|creative_writing
fiction: educational|research|academic|scientific|informational|training ~1 purpose*|reasons|use|context|paper
fiction: write|tell|create|compose ~3 story|stories|scene|screenplay|dialogue|dialog|novel|chapter|monologue|manifesto
fiction: grandma|grandmother|granny|grandpa|grandfather|father|mother|dad|mom|uncle|aunt ~8 used_to|would_always|always_told|told_me|would_tell
fiction: character|villain|hero|protagonist|narrator|teacher|expert ~8 explain*|describ*|teach*|tell*|details|recipe|step*|instructions
fiction: in_a_world|imagine_a_world|a_world_where|alternate_universe|alternate_reality|parallel_universe|parallel_world|thought_experiment|just_a_story|only_a_story|its_fiction|purely_fictional|lets_pretend|make_believe|in_theory|for_argument|for_the_sake_of_argument|lets_say|suppose_you|supposing|what_if_you
defense: warning_signs|signs_of|how_to_protect|protect_myself|protect_my|stay_safe|be_safe|for_safety|my_own|history_of|what_is_the_history|legal_drinking|penalties_for|how_do_police|how_do_banks|famous_hackers|as_a_hobby
context: not ~2 by|from|according_to|based_on ~2 the|provided|given ~1 article*|document*|context|source*|artikel*|dokument*
context: own_knowledge|eigenen_wissen
context: regardless|irrespective ~2 of ~2 the ~1 article*|document*|context|source*
context: disregard*|ignore|ignoring ~2 all|any|every ~1 article*|document*|sources|artikel*|dokument*
context: disregard*|ignore|ignoring ~2 provided|given|retrieved|supplied|attached ~1 article*|document*|context|sources
context: disregarding ~1 the ~1 article*|document*
!context: ignore|disregard|ignoring ~1 the_context|the_documents|the_articles|the_sources|the_provided|the_retrieved|the_given
context: do_not|dont ~1 look|use|rely ~3 document*|article*|context|sources
context: use ~2 also ~2 information ~2 in_the_prompt
context: information_in_the_prompt
context: there_is_no_relevant_answer|not_supposed_to_tell_me
context: antwort_steht_nicht_in_den_artikeln
context: document_context|context|kontext|artikel ~4 frage|question
`

type slot struct {
	words    map[string]bool // one-word alternatives
	prefixes []string        // one-word prefix alternatives
	phrases  [][]string      // multi-word alternatives; a word ending in '*' is a prefix
	gap      int             // words allowed before this slot
	anchor   bool
}

type phrasePattern struct {
	cat    int
	weight int // matches counted per occurrence: 2 for strong ("!") patterns
	slots  []slot
}

// match returns how many words of ws starting at k the slot matches (0
// when it does not).
func (s *slot) match(ws []string, k int) int {
	w := ws[k]
	if s.anchor {
		return boolInt(w == "^" || w == lineBreak)
	}
	if s.words[w] {
		return 1
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(w, p) {
			return 1
		}
	}
phrases:
	for _, ph := range s.phrases {
		if k+len(ph) > len(ws) {
			continue
		}
		for i, pw := range ph {
			if p, ok := strings.CutSuffix(pw, "*"); ok {
				if !strings.HasPrefix(ws[k+i], p) {
					continue phrases
				}
			} else if ws[k+i] != pw {
				continue phrases
			}
		}
		return len(ph)
	}
	return 0
}

type patternSet struct {
	byFirst  map[string][]int // first-slot word → pattern indices
	byByte   [256][]int       // first byte of a first-slot prefix → pattern indices
	anyFirst []int            // patterns whose first slot has an empty prefix
	pats     []phrasePattern
}

var categoryIndex = map[string]int{"override": sigOverride, "new_task": sigNewTask, "roleplay": sigRoleplay,
	"jailbreak": sigJailbreak, "exfil": sigExfil, "forcing": sigForcing, "context": sigContext,
	"refusal": sigRefusal, "unrestricted": sigUnrestricted, "authority": sigAuthority, "coercion": sigCoercion,
	"secret": sigSecret, "fiction": sigFiction, "persona": catPersona, "harm": catHarmTerm, "defense": catDefense,
	"delimiter": sigDelimiter}

// defaultPatterns compiles patternSource once; the result is immutable.
var defaultPatterns = sync.OnceValue(func() *patternSet {
	ps, err := compilePatterns(patternSource)
	if err != nil {
		panic("guard: bad built-in pattern table: " + err.Error()) // a programming error, caught by tests
	}
	return ps
})

func compilePatterns(src string) (*patternSet, error) {
	ps := &patternSet{byFirst: map[string][]int{}}
	for line := range strings.Lines(src) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		cat, body, ok := strings.Cut(line, ":")
		weight := 1
		if c, strong := strings.CutPrefix(cat, "!"); strong {
			cat, weight = c, 2
		}
		ci, known := categoryIndex[cat]
		if !ok || !known {
			return nil, fmt.Errorf("pattern line %q: unknown category", line)
		}
		var p phrasePattern
		p.cat = ci
		p.weight = weight
		gap := 0
		for _, f := range strings.Fields(body) {
			if strings.HasPrefix(f, "~") {
				n := 0
				for _, c := range f[1:] {
					n = n*10 + int(c-'0')
				}
				gap = n
				continue
			}
			p.slots = append(p.slots, makeSlot(f, gap))
			gap = 0
		}
		ps.pats = append(ps.pats, p)
	}
	for i, p := range ps.pats {
		first := p.slots[0]
		if first.anchor {
			ps.byFirst["^"] = append(ps.byFirst["^"], i)
			continue
		}
		for w := range first.words {
			ps.byFirst[w] = append(ps.byFirst[w], i)
		}
		firstBytes := map[byte]bool{}
		for _, ph := range first.phrases {
			if p, ok := strings.CutSuffix(ph[0], "*"); !ok {
				ps.byFirst[ph[0]] = append(ps.byFirst[ph[0]], i)
			} else if p == "" {
				ps.anyFirst = append(ps.anyFirst, i)
			} else {
				firstBytes[p[0]] = true
			}
		}
		for _, p := range first.prefixes {
			if p == "" {
				ps.anyFirst = append(ps.anyFirst, i)
			} else {
				firstBytes[p[0]] = true
			}
		}
		for b := range firstBytes {
			ps.byByte[b] = append(ps.byByte[b], i)
		}
	}
	return ps, nil
}

func makeSlot(f string, gap int) slot {
	s := slot{words: map[string]bool{}, gap: gap}
	if f == "^" {
		s.anchor = true
		return s
	}
	for _, alt := range strings.Split(f, "|") {
		alt = strings.ReplaceAll(alt, "'", "")
		if strings.Contains(alt, "_") {
			s.phrases = append(s.phrases, strings.Split(alt, "_"))
		} else if strings.HasSuffix(alt, "*") {
			s.prefixes = append(s.prefixes, strings.TrimSuffix(alt, "*"))
		} else if alt != "" {
			s.words[alt] = true
		}
	}
	return s
}

// matchAt reports whether pattern p matches the words starting at i. A
// slot may match anywhere within its gap; when a later slot fails, later
// positions of the earlier slots are tried ("ignore any previous and
// following instructions": "any" and "previous" both fit the second slot).
// Gaps are small and patterns short, so the search is bounded.
func (p *phrasePattern) matchAt(ws []string, i int) bool {
	n := p.slots[0].match(ws, i)
	return n > 0 && p.matchFrom(ws, 1, i+n)
}

func (p *phrasePattern) matchFrom(ws []string, si, j int) bool {
	if si == len(p.slots) {
		return true
	}
	s := &p.slots[si]
	skipped := 0
	for k := j; k < len(ws) && skipped <= s.gap; k++ {
		if m := s.match(ws, k); m > 0 && p.matchFrom(ws, si+1, k+m) {
			return true
		}
		if ws[k] == lineBreak {
			return false // gaps stay within a line
		}
		if ws[k] != "^" { // a sentence break does not count as a word
			skipped++
		}
	}
	return false
}

// count adds, per category, the number of pattern matches in ws, plus the
// matches of the word lists (harmful terms, method and defense cues,
// fictional framing) and of secret extraction.
func (ps *patternSet) count(ws []string, counts *[numCats]int) {
	countWords(ws, counts)
	counts[sigSecret] += secretRequests(ws)
	for i, w := range ws {
		if w == "" {
			continue
		}
		key := w
		if w == lineBreak {
			key = "^"
		}
		exact := ps.byFirst[key]
		for _, pi := range exact {
			if p := &ps.pats[pi]; p.matchAt(ws, i) {
				counts[p.cat] += p.weight
			}
		}
		for _, list := range [2][]int{ps.byByte[w[0]], ps.anyFirst} {
			for _, pi := range list {
				p := &ps.pats[pi]
				if !slices.Contains(exact, pi) && p.matchAt(ws, i) {
					counts[p.cat] += p.weight
				}
			}
		}
	}
}

// Raw-text markers of fake roles and delimiters, lower-case.
var delimiterMarkers = []string{"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|system|>", "<|user|>",
	"<|assistant|>", "</s>", "<s>", "[inst]", "[/inst]", "<<sys>>", "<</sys>>", "### system", "### instruction",
	"### human", "### assistant", "```system", "[system]", "(system)", "======end", "end of prompt", "end of input",
	"<system>", "</system>", "{\"role\": \"system\"", "{\"role\":\"system\"", "[/end]", "-- end --", "</instructions>",
	"<instructions>", "begin new instructions", "<!-- ", "\\n\\n", "###system", "### system ###", "[/system]"}

var (
	roleLabels      = []string{"system:", "assistant:", "human:", "user:", "ai:", "bot:", "chatgpt:", "gpt:"}
	roleLabelsInner = []string{". system:", ". assistant:", ". human:", ". user:", ". ai:", ". bot:", ". chatgpt:", ". gpt:"}
)

// German and English function words, for the mixed-language signal.
var (
	// Words that are also English ("die", "was", "den") are left out.
	deWords = map[string]bool{"der": true, "das": true, "und": true, "ist": true, "nicht": true, "ich": true,
		"sie": true, "wie": true, "mit": true, "für": true, "auf": true, "ein": true, "eine": true,
		"dem": true, "zu": true, "von": true, "sind": true, "wir": true, "du": true, "bitte": true, "dir": true,
		"mir": true, "mich": true, "dich": true, "kann": true, "wird": true, "auch": true, "noch": true, "oder": true, "aber": true}
	enWords = map[string]bool{"the": true, "and": true, "is": true, "not": true, "you": true, "what": true, "how": true,
		"with": true, "for": true, "are": true, "this": true, "that": true, "of": true, "to": true, "your": true,
		"please": true, "do": true, "can": true, "it": true}
)

// signalScratch holds per-call buffers.
type signalScratch struct {
	norm  []byte
	words []string
	alt   []string
}

var signalPool = sync.Pool{New: func() any { return new(signalScratch) }}

// Word lists for the harm and framing signals: single words, looked up
// once per word. Multi-word cues are patterns (categories harm, defense,
// fiction).
const (
	wHarm    = 1 << iota // a harmful object: a weapon, a drug, malware
	wHarmAct             // a harmful act: steal, hack, kidnap (a story may mention one)
	wMethod              // any request for a method: make, write, explain
	wHowTo               // an explicit one: how, step by step, instructions
	wDefense
	wFiction
)

var cueWords = func() map[string]uint8 {
	m := map[string]uint8{}
	add := func(bit uint8, words string) {
		for _, w := range strings.Fields(words) {
			m[w] |= bit
		}
	}
	add(wHarm, `bomb bombs explosive explosives napalm thermite detonator detonators grenade grenades tnt
		meth methamphetamine cocaine heroin fentanyl lsd mdma narcotics poison poisons toxin toxins
		ricin anthrax sarin cyanide chloroform weapon weapons gun guns firearm firearms silencer ammunition
		malware ransomware keylogger trojan botnet spyware rootkit ddos skimmer untraceable undetectable
		bioweapon bioweapons explosifs bomba bombe bombas drogas drogen drogue drogues arma armas waffe waffen
		veneno`)
	add(wHarmAct, `poisoning launder laundering counterfeit counterfeiting forge forged forgery shoplift
		shoplifting blackmail extort extortion kidnap kidnapping stalk stalking murder assassinate
		assassination terrorist terrorism overdose steal stealing hack hacking hotwire exploit fraud arson
		hijack smuggle smuggling trafficking torture racist slurs phishing hackear pirater robar stehlen voler spy
		spying stiehlt stehlen klauen hacken knacken einbrechen vergiften bombe`)
	add(wMethod, `how steps step recipe instructions guide tutorial method methods synthesis synthesize synthesise
		make making build building produce cook create write code script detail detailed details explain
		describe teach plan exact precise quantities ingredients way ways easiest effective procedure
		process formula blueprint cómo como comment wie fabricar hacer bauen herstellen fabriquer construir`)
	add(wHowTo, `how steps step recipe instructions guide tutorial method methods synthesis synthesize
		synthesise detailed details exact precise quantities ingredients procedure formula blueprint technical
		cómo comment wie`)
	add(wDefense, `protect protecting protection prevent preventing prevention recognise recognize recognising
		recognizing detect detecting detection avoid avoiding defend defending defense defence spot signs
		warn warning report reporting secure securing dispose disposal treat treatment quit addiction
		addictive history historically historical penalties penalty regulated regulation regulations convention
		laws illegal legally victims victim safely different difference differ compare`)
	add(wFiction, `hypothetical hypothetically theoretical theoretically fictional fiction imaginary pretend
		roleplay screenplay novel fanfic fantasy sci-fi hypothetisch fiktiv hipotéticamente hipotético
		hypothétiquement ficticio fictif`)
	return m
}()

// countWords adds the word-list cues of ws to counts.
func countWords(ws []string, counts *[numCats]int) {
	for _, w := range ws {
		if len(w) < 3 || len(w) > 20 {
			continue
		}
		b := cueWords[w]
		if b == 0 {
			continue
		}
		if b&wHarm != 0 {
			counts[catHarmTerm]++
		}
		if b&wHarmAct != 0 {
			counts[catHarmAct]++
		}
		if b&wMethod != 0 {
			counts[catMethod]++
		}
		if b&wHowTo != 0 {
			counts[catHowTo]++
		}
		if b&wDefense != 0 {
			counts[catDefense]++
		}
		if b&wFiction != 0 {
			counts[sigFiction]++
		}
	}
}

// Secret extraction (the "guess the password" game): a guarded secret
// named with a definite or possessive article ("the password", "your
// secret word"), in a prompt that asks for it or for something derived
// from it (letters, a hint, the word backwards, a poem spelling it).
var (
	secretNouns   = map[string]bool{"password": true, "passphrase": true, "passcode": true, "passwort": true, "passwords": true, "contraseña": true, "contrasena": true, "codeword": true, "pin": true}
	secretDeterm  = map[string]bool{"the": true, "your": true, "that": true, "this": true, "its": true, "secret": true, "hidden": true, "admin": true, "protected": true, "guarded": true, "das": true, "dein": true, "deine": true, "la": true, "tu": true, "le": true, "ton": true, "il": true}
	secretAfter   = map[string]bool{"policy": true, "policies": true, "manager": true, "managers": true, "reset": true, "requirement": true, "requirements": true, "rules": true, "strength": true, "hashing": true, "hash": true, "recovery": true, "generator": true, "field": true, "prompt": true, "screen": true, "box": true, "expiry": true, "expiration": true, "change": true, "history": true, "protection": true, "protected": true, "on": true, "for": true, "to": true, "of": true, "requirement's": true, "setting": true, "settings": true}
	secretAskWord = map[string]bool{"what": true, "whats": true, "tell": true, "give": true, "reveal": true, "say": true, "spell": true,
		"share": true, "show": true, "print": true, "output": true, "write": true, "type": true, "provide": true, "remind": true,
		"disclose": true, "leak": true, "repeat": true, "list": true, "describe": true, "encode": true, "encrypt": true,
		"translate": true, "hint": true, "letters": true, "letter": true, "characters": true, "character": true, "backwards": true,
		"backward": true, "reverse": true, "reversed": true, "rhyme": true, "rhymes": true, "riddle": true, "poem": true, "song": true,
		"acrostic": true, "sentence": true, "story": true, "hex": true, "base64": true, "rot13": true, "binary": true, "morse": true,
		"latin": true, "vowels": true, "length": true, "guess": true, "first": true, "last": true, "half": true, "needed": true,
		"syllables": true, "dashes": true, "spaces": true, "verrate": true, "sag": true, "dime": true, "cuál": true}
)

// secretDerived are asks for something derived from a secret, specific
// enough to make "the secret" (not only "the password") a guarded one.
var secretDerived = map[string]bool{"spell": true, "letters": true, "letter": true, "characters": true, "character": true,
	"backwards": true, "backward": true, "reverse": true, "reversed": true, "hint": true, "encode": true, "encrypt": true,
	"base64": true, "hex": true, "rot13": true, "riddle": true, "acrostic": true, "rhyme": true, "rhymes": true, "vowels": true,
	"length": true, "half": true, "position": true, "reveal": true, "morse": true, "binary": true, "syllables": true}

// secretRequests counts requests for a guarded secret in ws.
func secretRequests(ws []string) int {
	n := 0
	derived := false
	for _, x := range ws {
		if secretDerived[x] {
			derived = true
			break
		}
	}
	for i, w := range ws {
		noun := secretNouns[w]
		// "secret word", "secret key", "secret code", "magic word": the
		// second word is the noun.
		if !noun && i > 0 && (w == "word" || w == "key" || w == "code" || w == "phrase" || w == "token") &&
			(ws[i-1] == "secret" || ws[i-1] == "magic" || ws[i-1] == "hidden" || ws[i-1] == "code") {
			noun = true
		}
		// "the secret you are protecting"; "the secret" with a derived ask.
		if !noun && w == "secret" && i > 0 && (ws[i-1] == "the" || ws[i-1] == "your") && i+1 < len(ws) &&
			(derived || ws[i+1] == "you" || ws[i+1] == "that" || ws[i+1] == "which" || ws[i+1] == "^" || ws[i+1] == lineBreak) {
			noun = true
		}
		if !noun || i == 0 {
			continue
		}
		det := ws[i-1]
		if det == "secret" || det == "magic" || det == "hidden" || det == "code" {
			if i < 2 {
				continue
			}
			det = ws[i-2]
		}
		if !secretDeterm[det] {
			continue
		}
		if i+1 < len(ws) && secretAfter[ws[i+1]] {
			continue
		}
		// Advice, not a request: "never share your password".
		negated := false
		for k := max(0, i-4); k < i; k++ {
			if ws[k] == "never" || ws[k] == "dont" || ws[k] == "not" || ws[k] == "shouldnt" || ws[k] == "nobody" {
				negated = true
			}
		}
		if negated {
			continue
		}
		for _, x := range ws {
			if secretAskWord[x] {
				n++
				break
			}
		}
	}
	return n
}

// computeSignals returns the signal vector for text.
func computeSignals(text string, ps *patternSet) [numSignals]float64 {
	sc := signalPool.Get().(*signalScratch)
	defer signalPool.Put(sc)
	norm, st := normalize(sc.norm, text)
	sc.norm = norm
	ns := string(norm)
	sc.words = tokenizeLower(sc.words[:0], ns)
	return signalsOf(text, ns, st, sc.words, ps, sc)
}

// signalsOf computes the signals from text, its normalization and words.
func signalsOf(text, norm string, st normStats, words []string, ps *patternSet, sc *signalScratch) [numSignals]float64 {
	var counts [numCats]int
	var obf float64
	ps.count(words, &counts)

	// Leetspeak, misspelt keywords, accents sprinkled on letters and ROT13
	// variants: patterns that match only after decoding count, and count
	// as obfuscation.
	sc.alt = sc.alt[:0]
	changed := false
	for _, w := range words {
		if d, ok := deleet(w); ok {
			w, changed = d, true
		}
		if d, ok := unaccent(w); ok {
			w, changed = d, true
		}
		if k, ok := nearKeyword(w); ok {
			w, changed = k, true
		}
		sc.alt = append(sc.alt, w)
	}
	if changed {
		var c2 [numCats]int
		ps.count(sc.alt, &c2)
		for i := range c2 {
			if c2[i] > counts[i] {
				if i < numSignals && i != sigFiction {
					obf += float64(c2[i] - counts[i])
				}
				counts[i] = c2[i]
			}
		}
	}
	// ROT13: only when the rotated words look more like language than
	// the words themselves (a cheap test that spares ordinary text the
	// extra pass).
	if looksRot13(words) {
		sc.alt = sc.alt[:0]
		for _, w := range words {
			sc.alt = append(sc.alt, rot13(w))
		}
		var c3 [numCats]int
		ps.count(sc.alt, &c3)
		for i := range c3 {
			if c3[i] > 0 && i < numSignals {
				obf += float64(c3[i])
			}
			counts[i] += c3[i]
		}
	}

	// Encoded payloads: decode base64 and hex runs and scan them too.
	for _, payload := range encodedPayloads(text) {
		w2 := tokenizeLower(nil, strings.ToLower(payload))
		var c4 [numCats]int
		ps.count(w2, &c4)
		for i := range c4 {
			if c4[i] > 0 && i < numSignals {
				obf += float64(c4[i])
			}
			counts[i] += c4[i]
		}
	}

	// "DAN" in capitals is the jailbreak's name; "Dan" is a person.
	if hasUpperWord(text, "DAN") {
		counts[sigJailbreak]++
	}

	// Invisible characters and look-alikes.
	if st.zeroWidth > 0 {
		obf += 1 + float64(min(st.zeroWidth, 20))/10
	}
	if st.bidi > 0 {
		obf += 1
	}
	if st.tags > 0 {
		obf += 2
	}
	if st.homoglyphs > 0 {
		obf += 1
	}
	obf += float64(spacedLetters(words)) // "S a y t h a t"

	lower := norm
	for _, m := range delimiterMarkers {
		if strings.Contains(lower, m) {
			counts[sigDelimiter]++
		}
	}
	for line := range strings.Lines(lower) {
		line = strings.TrimLeft(line, " \t>#*-[(")
		for k, l := range roleLabels {
			if strings.HasPrefix(line, l) {
				counts[sigDelimiter]++
			}
			if strings.Contains(line, roleLabelsInner[k]) {
				counts[sigDelimiter]++
			}
		}
	}

	var sig [numSignals]float64
	for i := range sig {
		sig[i] = saturate(float64(counts[i]))
	}
	sig[sigObfuscated] = saturate(obf)
	sig[sigShouting] = shouting(text)
	sig[sigMixedLang] = mixedLanguage(words)
	sig[sigSymbols] = symbolShare(text)

	// Combinations. A harmful term with a request for a method and no
	// protective or informational frame is a harmful ask; in a fictional
	// or hypothetical frame it is the classic jailbreak. A role or persona
	// is ordinary ("act as a tour guide") until it comes with no-limits,
	// refusal suppression or a harmful ask.
	// A harmful object needs any request for a method ("write a
	// keylogger"); a harmful act needs an explicit how-to, since stories
	// mention thefts ("a villain who wants to steal the cheese").
	harm := 0
	if counts[catMethod]+counts[catHowTo] > 0 {
		harm += counts[catHarmTerm]
	}
	if counts[catHowTo] > 0 {
		harm += counts[catHarmAct]
	}
	if counts[catDefense] > 0 {
		harm = 0
	}
	sig[sigHarm] = saturate(float64(harm))
	if harm > 0 && counts[sigFiction] > 0 {
		sig[sigFramedHarm] = saturate(float64(min(harm, counts[sigFiction])))
	}
	if role := counts[sigRoleplay] + counts[catPersona]; role > 0 {
		if k := counts[sigUnrestricted] + counts[sigRefusal] + counts[sigJailbreak] + harm; k > 0 {
			sig[sigPersonaJailbreak] = saturate(float64(min(role, k)))
		}
	}
	return sig
}

// hasUpperWord reports whether text contains w (upper-case) as a whole
// word.
func hasUpperWord(text, w string) bool {
	for from := 0; ; {
		i := strings.Index(text[from:], w)
		if i < 0 {
			return false
		}
		i += from
		j := i + len(w)
		if (i == 0 || !isAlnum(text[i-1])) && (j == len(text) || !isAlnum(text[j])) {
			return true
		}
		from = i + 1
	}
}

// unaccent folds Latin letters with diacritics to ASCII in a word that is
// otherwise ASCII ("igńore", "prëvious"); ok is false when nothing
// changed. Words in languages that use accents throughout are folded too,
// but patterns in those languages are written with their accents, so a
// fold only adds matches for English-looking words.
func unaccent(w string) (string, bool) {
	ascii := 0
	for i := 0; i < len(w); i++ {
		if w[i] < utf8.RuneSelf {
			ascii++
		}
	}
	if ascii == len(w) || ascii*2 < len(w) {
		return "", false
	}
	var b strings.Builder
	changed := false
	for _, r := range w {
		if f, ok := latinFold[r]; ok {
			b.WriteByte(f)
			changed = true
			continue
		}
		b.WriteRune(r)
	}
	return b.String(), changed
}

var latinFold = func() map[rune]byte {
	m := map[rune]byte{}
	for base, rs := range map[byte]string{'a': "àáâãäåāăą", 'c': "çćĉċč", 'e': "èéêëēĕėęě", 'i': "ìíîïĩīĭįı",
		'n': "ñńņňŉ", 'o': "òóôõöøōŏő", 'u': "ùúûüũūŭůűų", 'y': "ýÿŷ", 's': "śŝşš", 'z': "źżž", 'g': "ĝğġģ", 'l': "ĺļľŀł", 'r': "ŕŗř", 't': "ţťŧ", 'd': "ďđ"} {
		for _, r := range rs {
			m[r] = base
		}
	}
	return m
}()

// saturate maps a count to [0,1): 1 → 0.5, 2 → 0.75, ...
func saturate(c float64) float64 {
	if c <= 0 {
		return 0
	}
	v := 1.0
	for i := 0; i < int(min(c, 8)); i++ {
		v /= 2
	}
	return 1 - v
}

// spacedLetters counts runs of six or more single-letter words
// ("s a y t h a t"), a way to slip words past filters.
func spacedLetters(ws []string) int {
	runs, n := 0, 0
	for _, w := range ws {
		if utf8.RuneCountInString(w) == 1 && w != "^" && w != lineBreak {
			n++
			continue
		}
		if n >= 6 {
			runs++
		}
		n = 0
	}
	if n >= 6 {
		runs++
	}
	return runs
}

// shouting returns 1 when four or more consecutive words are ALL CAPS
// inside text that is mostly not, 0 otherwise.
func shouting(text string) float64 {
	run, best, words, caps := 0, 0, 0, 0
	for f := range strings.FieldsSeq(text) {
		letters, upper := 0, 0
		for _, r := range f {
			if r < utf8.RuneSelf && isAlpha(byte(r)) {
				letters++
				if isUpper(byte(r)) {
					upper++
				}
			}
		}
		if letters == 0 {
			continue
		}
		words++
		if letters >= 2 && upper == letters {
			caps++
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	if best >= 4 && caps*10 < words*8 {
		return 1
	}
	return 0
}

// mixedLanguage returns 1 when the text uses at least two German and two
// English function words.
func mixedLanguage(ws []string) float64 {
	de, en := 0, 0
	for _, w := range ws {
		if deWords[w] {
			de++
		}
		if enWords[w] {
			en++
		}
	}
	if de >= 2 && en >= 2 {
		return 1
	}
	return 0
}

// symbolShare scores unusual punctuation: escaped newlines, long runs of
// one symbol, or a high share of non-alphanumeric bytes.
func symbolShare(text string) float64 {
	if len(text) == 0 {
		return 0
	}
	sym, run, best := 0, 0, 0
	var last byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c < utf8.RuneSelf && !isAlnum(c) && !isBlank(c) {
			sym++
			if c == last {
				run++
				best = max(best, run)
			} else {
				run = 1
			}
		} else {
			run = 0
		}
		last = c
	}
	v := 0.0
	if best >= 6 {
		v += 0.5
	}
	if strings.Count(text, `\n`) >= 2 {
		v += 0.5
	}
	if len(text) >= 20 && float64(sym)/float64(len(text)) > 0.25 {
		v += 0.5
	}
	return min(v, 1)
}

// encodedPayloads decodes base64 and hex runs long enough to hide an
// instruction and returns the ones that decode to mostly printable text.
func encodedPayloads(text string) []string {
	var out []string
	for i := 0; i < len(text); {
		if !isB64(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && isB64(text[j]) && j-i < 8192 {
			j++
		}
		run := text[i:j]
		if len(run) >= 16 {
			if p, ok := decodePrintable(run); ok {
				out = append(out, p)
			}
		}
		i = j
		if len(out) >= 8 {
			break
		}
	}
	return out
}

func isB64(c byte) bool {
	return isAlnum(c) || c == '+' || c == '/' || c == '=' || c == '-' || c == '_'
}

func decodePrintable(run string) (string, bool) {
	try := func(b []byte, err error) (string, bool) {
		if err != nil || len(b) < 8 {
			return "", false
		}
		printable, letters := 0, 0
		for _, c := range b {
			if (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' {
				printable++
			}
			if isAlpha(c) {
				letters++
			}
		}
		if printable*10 >= len(b)*9 && letters*2 >= len(b) && strings.Contains(string(b), " ") {
			return string(b), true
		}
		return "", false
	}
	if len(run)%2 == 0 && inCharset(strings.ToLower(run), csHex) {
		return try(hex.DecodeString(run))
	}
	r := strings.TrimRight(run, "=")
	if s, ok := try(base64.RawStdEncoding.DecodeString(r)); ok {
		return s, true
	}
	return try(base64.RawURLEncoding.DecodeString(r))
}

// typoKeywords are the words attackers misspell to slip past filters.
var typoKeywords = []string{"ignore", "disregard", "forget", "instructions", "previous", "prompt", "system",
	"everything", "vergiss", "ignoriere", "anweisungen"}

// nearKeyword maps a word within a small edit distance of a keyword (one
// edit for short keywords, two for keywords of six letters or more; same
// first letter) to that keyword.
func nearKeyword(w string) (string, bool) {
	if len(w) < 5 || len(w) > 14 {
		return "", false
	}
	for _, k := range typoKeywords {
		if w == k || w[0] != k[0] {
			continue
		}
		// An inflection is a word, not a misspelling: "ignored",
		// "ignores", "systems", "forgetting".
		if len(w) > len(k) && strings.HasPrefix(w, k[:len(k)-1]) {
			continue
		}
		limit := 1
		if len(k) >= 6 {
			limit = 2
		}
		if d := len(w) - len(k); d > limit || -d > limit {
			continue
		}
		if editDistance(w, k, limit) <= limit {
			return k, true
		}
	}
	return "", false
}

// editDistance is the Levenshtein distance of two short ASCII-ish strings,
// or limit+1 once it must exceed limit.
func editDistance(a, b string, limit int) int {
	var prev, cur [16]int
	if len(a) > 15 || len(b) > 15 {
		return limit + 1
	}
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev = cur
	}
	return prev[len(b)]
}

// rot13Common are frequent words of ROT13-encoded English ("the" is
// "gur", "and" is "naq"...), for looksRot13.
var rot13Common = map[string]bool{"gur": true, "naq": true, "lbh": true, "lbhe": true, "gb": true, "bs": true,
	"vf": true, "nyy": true, "vtaber": true, "cerivbhf": true, "vafgehpgvbaf": true, "cebzcg": true, "flfgrz": true,
	"vg": true, "va": true, "sbe": true, "guvf": true, "gung": true, "jvgu": true, "zr": true, "fnl": true}

// looksRot13 reports whether at least two words are common words in ROT13.
func looksRot13(ws []string) bool {
	n := 0
	for _, w := range ws {
		if rot13Common[w] {
			n++
			if n >= 2 {
				return true
			}
		}
	}
	return false
}
