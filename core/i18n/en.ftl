# sshmatrix's own words in English (Project Fluent syntax: https://projectfluent.org/).
# Every message here has its Japanese twin in ja.ftl (a test holds them to one set of ids).
# Evidence — what a client or server printed — is never translated.

## The table's axes: corner and header words, and the values sshmatrix writes itself.
axis-client = Client
axis-key-tool = Key tool
axis-key = Key
axis-passphrase = Passphrase
axis-holder = Holder
axis-certificate = Certificate
axis-target = Target
axis-user = User
value-yes = yes
value-no = no
key-with-bits = { $family } { $bits }
holder-key-file = key file
holder-agent = agent
holder-agent-forwarded = agent forwarded
holder-password = password
holder-key-file-then-password = key file, then password
holder-keyboard-interactive = keyboard-interactive
holder-key-file-then-keyboard-interactive = key file, then keyboard-interactive

## The counts line under every table.
tally-ok = ○ ok { $n }
tally-ok-weak = ○ ok { $n } (◐ weak { $weak })
tally-fail = × fail { $n }
tally-needs-login = ? needs a login { $n }
tally-error = ! error { $n }
tally-interrupted = … interrupted { $n } (not measured)
cells = { $n ->
    [one] { $n } cell
   *[other] { $n } cells
}

## Legends.
legend-failure = [{ $code }] { $stage }: { $reason }
legend-weak = logs in, weak: { $rules }
weak-rule = { $says } — breaks under { $breaks }
needs-login-hint = ? { $n ->
    [one] 1 cell needs
   *[other] { $n } cells need
} a login to decide: assume the releases' defaults with --assume-defaults, or log in with --verify USER
fix = fix
fix-cost = cost
fix-for = for { $at } ({ $cells }):
advice-works = ○ works
advice-fails = × no
advice-untried = ?
side-client = client
side-server = server
side-proposed = proposed
disagree-head = measurement and prediction disagree in { $n } cells (a profile, policy or engine bug):
disagree-cell = measured { $measured } [{ $mcode }], predicted { $predicted } [{ $pcode }]
note = note
mark-ok = logged in
mark-fail = refused
mark-weak = logs in, weak
mark-error = no verdict (error)
mark-needs-login = needs a login
mark-none = no such cell
sheet-marks = ✓ logs in · ◐ logs in, weak · ✗ refused · ⚠ could not be decided
sheet-older = older versions: { $clients }

## The HTML report.
html-click-hint = click a cell for its evidence
html-click = Click a cell.
html-filter-search = Search
html-filter-verdict = Verdict
html-filter-code = Code
html-filter-all = all
html-filter-shown = { $shown } of { $total } cells shown
html-rerun = rerun
html-explain = explain
meta-cells = { $shown } of { $planned } cells
meta-shard = shard { $shard }
meta-tool = sshmatrix { $version } (report schema { $schema })
meta-made = made { $time }
meta-made-on = made { $time } on { $host }

## A cell's fields (the HTML panel, explain).
field-verdict = verdict
field-stage = stage
field-code = code
field-reason = reason
field-client = client
field-server = server
field-evidence = evidence
field-cell = cell
field-user = user
field-name = name
field-key = key
field-negotiated = negotiated
field-signature = signature
field-weak = weak
field-fixes = fixes
field-notes = notes

## Explanations (explain, try).
explain-cell = cell #{ $index }:
explain-selector = selector
explain-at = at { $stage }
explain-meaning = meaning
explain-notice = notice
explain-route = route
explain-caveat = caveat
explain-no-fix = no fix computed for this code
explain-fixes-verified = fixes (each verified by rerunning the cell):
explain-fixes-unverified = fixes (not verified; add --try-fixes):
explain-still = { $mark } still [{ $code }]

## Fixes (written into reports in the language of the run).
fix-upgrade = upgrade to { $client } (released { $released })
fix-other-key = use an { $key } key instead of { $instead }
fix-convert-how = convert the key to { $format }: { $how }
fix-convert-tool = convert the key to { $format } ({ $tool } writes it)
fix-switch-policy = switch to policy { $policy }: { $how }
fix-where = { $fix } — where: { $place }
fix-host-keys = give the server Ed25519, ECDSA and RSA host keys
fix-reissue = re-issue the certificate: { $how }
cert-sign-sha2 = sign it with SHA-2, `ssh-keygen -s CA_KEY -t rsa-sha2-512 -I ID -n LOGIN KEY.pub` (OpenSSH 8.2+ signs RSA certificates with rsa-sha2-512 by default)
cert-validity-now = with a validity that covers now, `ssh-keygen -s CA_KEY -V -5m:+52w …`
cert-validity-started = with a validity starting before now, `ssh-keygen -s CA_KEY -V -5m:+52w …` (or set the clock of the host that signed it or of the server right)
fix-reissue-host = re-issue the host certificate: { $how }
host-cert-sign-sha2 = sign it with SHA-2, `ssh-keygen -s CA_KEY -h -t rsa-sha2-512 -I ID -n HOSTNAME HOST_KEY.pub` (OpenSSH 8.2 and later refuse ssh-rsa CA signatures)
host-cert-validity-now = with a validity that covers now, `ssh-keygen -s CA_KEY -h -V -5m:+52w …`
host-cert-validity-started = with a validity starting before now, `ssh-keygen -s CA_KEY -h -V -5m:+52w …` (or set the clock of the host that signed it or of the client right)
host-cert-principal = naming the host as clients reach it, `ssh-keygen -s CA_KEY -h -n HOSTNAME,IP …`
cert-source = with the client's address in its source-address option, `ssh-keygen -s CA_KEY -O source-address=ADDR/BITS …`, or without the option
cert-principal = with the login name as a principal, `ssh-keygen -s CA_KEY -n LOGIN …` (or list the certificate's principal in the server's AuthorizedPrincipalsFile)
cost-accepts-signature = the server accepts { $sig } signatures from every client (SHA-1 for ssh-rsa, deprecated since OpenSSH 8.8)
cost-small-rsa = accepts RSA keys below 2048 bits, which no longer meet NIST guidance
cost-one-method = one method suffices: the second step (e.g. the password after the key) is no longer asked
cost-ca-sha1 = the server trusts certificates signed with SHA-1 (ssh-rsa), which OpenSSH refuses by default since 8.2
cost-longer-validity = a longer validity keeps a leaked key usable longer

advice-server-change = server change
advice-client-upgrade = client upgrade
advice-whole-matrix = whole matrix
advice-most = the { $what } that turns the most × into ○ is `{ $fix }` — { $n } of { $failed } failed cells (verified by rerunning a cell of each failure group)
explain-why = Why cells fail:
explain-clients = clients
explain-more = and { $n } more
explain-eg = e.g.
explain-what-fixes = What fixes most:
explain-disagreed = Prediction disagreed on { $n } cells ({ $ids }): their profiles or policies miss a fact.
explain-next = Next: { $command }  (one cell: its evidence and verified fixes)

## diagnose
diagnose-not-read = not read: { $error }
diagnose-file = { $lines ->
    [one] 1 line
   *[other] { $lines } lines
} ({ $encoding }): { $clients ->
    [one] 1 client attempt
   *[other] { $clients } client attempts
}, { $servers ->
    [one] 1 server connection
   *[other] { $servers } server connections
}
diagnose-attempts = { $n ->
    [one] 1 attempt
   *[other] { $n } attempts
}: { $failed } failed, { $logins } logged in
diagnose-not-kept = ({ $n } more server connections counted, not kept)
diagnose-none = no login attempt found: give the client's debug output (ssh -vvv, plink -v, paramiko DEBUG) or the server's auth log
diagnose-no-failure = no failed attempt: every attempt in these logs logged in
diagnose-attempt = attempt { $n }
diagnose-no-ident = (identification not logged)
diagnose-undecided = undecided
diagnose-candidate = candidate
diagnose-decided-by = decided by
diagnose-cannot-tell = cannot tell
diagnose-no-server-log = (no server log of it)
diagnose-no-client-log = (no client log of it)
diagnose-signed = , signed { $sig }
diagnose-accepted = , accepted
diagnose-key-offered = key offered

## Errors
word-error = error
word-hint = hint

## Progress (standard error)
progress-preparing = preparing { $cells } on { $targets ->
    [one] 1 target
   *[other] { $targets } targets
} (keys, targets, agents)
progress-cells = cells
progress-left = { $eta } left
progress-rate = { $rate } cells/s
progress-summary = { $cells }  { $counts }  in { $secs } s

## scan: titles and the fleet's summary (in the language of the run)
scan-predicted = (predicted before login)
scan-predicted-measured = (predicted before login; { $n } cells measured by logging in as { $user })
scan-title = Scan of { $address }: { $ident } { scan-predicted }
scan-title-fleet = Scan of { $hosts ->
    [one] 1 host
   *[other] { $hosts } hosts
} of { $file } { scan-predicted }
scan-title-merged = Scan of { $hosts ->
    [one] 1 host
   *[other] { $hosts } hosts
} from { $reports ->
    [one] 1 report
   *[other] { $reports } reports
} { scan-predicted }
fleet-no-lockout = no client and key is locked out on any of the { $hosts ->
    [one] 1 host
   *[other] { $hosts } hosts
}
fleet-no-lockout-undecided = no client and key is predicted locked out on any of the { $hosts ->
    [one] 1 host
   *[other] { $hosts } hosts
}; { $n } cells are undecided (?) without a login

## Notes a run writes into its report (in the language of the run)
note-local-backend = local backend: { $sshd } in inetd mode (sshd -i), one process per cell, server log captured per cell
note-local-users = on local targets every matrix user is served by the OS user running sshmatrix ({ $login }); user names are labels (real per-user accounts come with container targets)
note-policy = policy `{ $policy }`: { $basis }
basis-line = server side: { $kind } — { $says }
basis-measured = measured
basis-documented = documented
basis-inferred = inferred
basis-report = field report only
basis-not-reproduced = not reproduced

## Verdicts and stages as a reader sees them (reports keep their kebab-case names in data).
verdict-ok = ok
verdict-fail = fail
verdict-error = error
verdict-interrupted = interrupted
stage-key-load = key-load
stage-connect = connect
stage-kex = kex
stage-hostkey = hostkey
stage-cipher = cipher
stage-mac = mac
stage-compression = compression
stage-auth = auth
stage-emulation = emulation
stage-timeout = timeout
stage-login = login
stage-jump = jump
stage-interrupted = interrupted
