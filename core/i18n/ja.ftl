# sshmatrix's own words in Japanese (Project Fluent syntax). The same ids as en.ftl, plus the
# Japanese of facts whose English lives with the data: each failure code's meaning (code-*, the
# English in core/src/vocab.rs) and each weak rule's words (weak-*, the English in
# reports/weak.toml). Evidence — what a client or server printed — stays verbatim.
# The table words follow the field reports' own tables (SSH接続ツール / 鍵作成ツール / 鍵の種類 /
# パスフレーズ有無, RSA（ビット数 2048）, ○ and ×).

## 表の軸
axis-client = SSH接続ツール
axis-key-tool = 鍵作成ツール
axis-key = 鍵の種類
axis-passphrase = パスフレーズ有無
axis-holder = 鍵の持ち方
axis-certificate = 証明書
axis-target = 接続先
axis-user = ユーザー
value-yes = あり
value-no = なし
key-with-bits = { $family }（ビット数 { $bits }）
holder-key-file = 鍵ファイル
holder-agent = エージェント
holder-agent-forwarded = エージェント転送
holder-password = パスワード
holder-key-file-then-password = 鍵ファイル、続けてパスワード
holder-keyboard-interactive = キーボードインタラクティブ
holder-key-file-then-keyboard-interactive = 鍵ファイル、続けてキーボードインタラクティブ

## 集計行
tally-ok = ○ 成功 { $n }
tally-ok-weak = ○ 成功 { $n }（うち ◐ 弱い { $weak }）
tally-fail = × 失敗 { $n }
tally-needs-login = ? 要ログイン { $n }
tally-error = ! エラー { $n }
tally-interrupted = … 中断 { $n }（未測定）
cells = { $n } セル

## 凡例
legend-failure = [{ $code }] { $stage }: { $meaning } — { $reason }
legend-weak = ログインできるが弱い: { $rules }
weak-rule = { $says } — 使えなくなる条件: { $breaks }
needs-login-hint = ? ログインしないと判定できないセルが { $n } 個あります: --assume-defaults で各リリースの既定値を仮定するか、--verify USER でログインして確かめてください
fix = 対処
fix-cost = 代償
fix-for = { $at } の場合（{ $cells }）:
advice-works = ○ 有効
advice-fails = × 効果なし
advice-untried = ?（未検証）
side-client = クライアント
side-server = サーバー
side-proposed = 提案
disagree-head = 測定と予測が { $n } セルで食い違っています（プロファイル・ポリシー・エンジンの不具合）:
disagree-cell = 測定 { $measured } [{ $mcode }]、予測 { $predicted } [{ $pcode }]
note = 注記
mark-ok = ログイン成功
mark-fail = 拒否
mark-weak = ログインできるが弱い
mark-error = 判定不能（エラー）
mark-needs-login = 要ログイン
mark-none = 該当なし
sheet-marks = ✓ ログイン可 · ◐ ログインできるが弱い · ✗ 拒否 · ⚠ 判定不能
sheet-older = 旧バージョン: { $clients }

## HTML レポート
html-click-hint = セルをクリックすると根拠を表示します
html-click = セルをクリックしてください。
html-filter-search = 検索
html-filter-verdict = 判定
html-filter-code = コード
html-filter-all = すべて
html-filter-shown = { $total } セル中 { $shown } セルを表示
html-rerun = 再実行
html-explain = 説明
meta-cells = 全 { $planned } セル中 { $shown } セル
meta-shard = シャード { $shard }
meta-tool = sshmatrix { $version }（レポート形式 { $schema }）
meta-made = { $time } 作成
meta-made-on = { $time } に { $host } で作成

## セルの項目
field-verdict = 判定
field-stage = 段階
field-code = コード
field-reason = 理由
field-client = クライアント側
field-server = サーバー側
field-evidence = 根拠
field-cell = セル
field-user = ユーザー
field-name = 名前
field-key = 鍵
field-negotiated = 合意したアルゴリズム
field-signature = 署名
field-weak = 弱い点
field-fixes = 対処
field-notes = 注記

## 説明（explain, try）
explain-cell = セル #{ $index }:
explain-selector = セレクタ
explain-at = （段階: { $stage }）
explain-meaning = 意味
explain-notice = 参考
explain-route = 経路
explain-caveat = 注意
explain-no-fix = このコードの対処はまだ算出できません
explain-fixes-verified = 対処（それぞれセルを再実行して検証済み）:
explain-fixes-unverified = 対処（未検証。--try-fixes で検証します）:
explain-still = { $mark } 依然として [{ $code }]

## 対処（実行時の言語でレポートに書き込まれる）
fix-upgrade = { $client } に更新する（{ $released } リリース）
fix-other-key = { $instead } の代わりに { $key } の鍵を使う
fix-convert-how = 鍵を { $format } に変換する: { $how }
fix-convert-tool = 鍵を { $format } に変換する（{ $tool } が書き出せる）
fix-switch-policy = ポリシー { $policy } に切り替える: { $how }
fix-where = { $fix } — 設定場所: { $place }
fix-host-keys = サーバーに Ed25519、ECDSA、RSA のホスト鍵を持たせる
fix-reissue = 証明書を発行し直す: { $how }
cert-sign-sha2 = SHA-2 で署名する。`ssh-keygen -s CA_KEY -t rsa-sha2-512 -I ID -n LOGIN KEY.pub`（OpenSSH 8.2 以降は RSA 証明書を既定で rsa-sha2-512 で署名する）
cert-validity-now = 現在を含む有効期間で。`ssh-keygen -s CA_KEY -V -5m:+52w …`
cert-validity-started = 現在より前に始まる有効期間で。`ssh-keygen -s CA_KEY -V -5m:+52w …`（または署名したホストかサーバーの時計を合わせる）
fix-reissue-host = ホスト証明書を発行し直す: { $how }
host-cert-sign-sha2 = SHA-2 で署名する。`ssh-keygen -s CA_KEY -h -t rsa-sha2-512 -I ID -n HOSTNAME HOST_KEY.pub`（OpenSSH 8.2 以降は ssh-rsa の CA 署名を拒否する）
host-cert-validity-now = 現在を含む有効期間で。`ssh-keygen -s CA_KEY -h -V -5m:+52w …`
host-cert-validity-started = 現在より前に始まる有効期間で。`ssh-keygen -s CA_KEY -h -V -5m:+52w …`（または署名したホストかクライアントの時計を合わせる）
host-cert-principal = クライアントが接続に使うホスト名を含めて。`ssh-keygen -s CA_KEY -h -n HOSTNAME,IP …`
cert-source = source-address 制約にクライアントのアドレスを含めて（`ssh-keygen -s CA_KEY -O source-address=ADDR/BITS …`）、または制約なしで
cert-principal = ログイン名をプリンシパルに含めて。`ssh-keygen -s CA_KEY -n LOGIN …`（またはサーバーの AuthorizedPrincipalsFile に証明書のプリンシパルを書く）
cost-accepts-signature = サーバーがすべてのクライアントから { $sig } 署名を受け付ける（ssh-rsa は SHA-1。OpenSSH 8.8 で非推奨）
cost-small-rsa = 2048 ビット未満の RSA 鍵を受け付ける（NIST の指針を満たさない）
cost-one-method = 一つの方式で足りるようになる: 二段目（鍵のあとのパスワードなど）を求めなくなる
cost-ca-sha1 = SHA-1（ssh-rsa）で署名された証明書を信頼する（OpenSSH は 8.2 以降既定で拒否）
cost-longer-validity = 有効期間が長いほど、漏れた鍵が長く使える

advice-server-change = サーバーの変更
advice-client-upgrade = クライアントの更新
advice-whole-matrix = マトリクス全体
advice-most = × を最も多く ○ に変える{ $what }は `{ $fix }` — 失敗 { $failed } セル中 { $n } セル（失敗グループごとに 1 セルを再実行して検証）
explain-why = 失敗の理由:
explain-clients = クライアント
explain-more = ほか { $n } 件
explain-eg = 例
explain-what-fixes = 最も多くを直す対処:
explain-disagreed = 予測が { $n } セル（{ $ids }）で外れました: プロファイルかポリシーに事実が欠けています。
explain-next = 次に: { $command }（1 セルの根拠と検証済みの対処）

## diagnose
diagnose-not-read = 読めません: { $error }
diagnose-file = { $lines } 行（{ $encoding }）: クライアントの試行 { $clients } 件、サーバーの接続 { $servers } 件
diagnose-attempts = 試行 { $n } 件: 失敗 { $failed } 件、ログイン成功 { $logins } 件
diagnose-not-kept = （ほかにサーバーの接続 { $n } 件を数えたが保持していない）
diagnose-none = ログインの試行が見つかりません: クライアントのデバッグ出力（ssh -vvv、plink -v、paramiko DEBUG）かサーバーの認証ログを渡してください
diagnose-no-failure = 失敗した試行はありません: このログの試行はすべてログインできています
diagnose-attempt = 試行 { $n }
diagnose-no-ident = （識別文字列は記録されていない）
diagnose-undecided = 未判定
diagnose-candidate = 候補
diagnose-decided-by = 決め手
diagnose-cannot-tell = 判断できないこと
diagnose-no-server-log = （サーバーのログなし）
diagnose-no-client-log = （クライアントのログなし）
diagnose-signed = 、署名 { $sig }
diagnose-accepted = 、受理
diagnose-key-offered = 提示した鍵

## Errors
word-error = エラー
word-hint = ヒント

## 進行状況（標準エラー出力）
progress-preparing = { $cells }を準備しています（接続先 { $targets } 件: 鍵、接続先、エージェント）
progress-cells = セル
progress-left = 残り { $eta }
progress-rate = { $rate } セル/秒
progress-summary = { $cells }  { $counts }  { $secs } 秒

## scan: 表題とフリートの要約（実行時の言語で）
scan-predicted = （ログインせずに予測）
scan-predicted-measured = （ログインせずに予測。うち { $n } セルは { $user } としてログインして実測）
scan-title = { $address } のスキャン: { $ident } { scan-predicted }
scan-title-fleet = { $file } の { $hosts } 台のスキャン { scan-predicted }
scan-title-merged = { $reports } 件のレポートから { $hosts } 台のスキャン { scan-predicted }
fleet-no-lockout = { $hosts } 台のどのホストでも、締め出されるクライアントと鍵はありません
fleet-no-lockout-undecided = { $hosts } 台のどのホストでも締め出しは予測されません。{ $n } セルはログインしないと判定できません（?）

## 実行がレポートに書く注記（実行時の言語で）
note-local-backend = ローカルのバックエンド: { $sshd } を inetd モード（sshd -i）で実行、セルごとに 1 プロセス、サーバーログはセルごとに記録
note-local-users = ローカルの接続先では、マトリクスのどのユーザーも sshmatrix を実行している OS ユーザー（{ $login }）が受け持つ。ユーザー名はラベル（ユーザーごとの実アカウントはコンテナの接続先で使える）
note-policy = ポリシー `{ $policy }`: { $basis }
basis-line = サーバー側の根拠: { $kind } — { $says }
basis-measured = 実測
basis-documented = 文書あり
basis-inferred = 推定
basis-report = 現場報告のみ
basis-not-reproduced = 再現していないもの

## 判定と段階
verdict-ok = 成功
verdict-fail = 失敗
verdict-error = エラー
verdict-interrupted = 中断
stage-key-load = 鍵の読み込み
stage-connect = 接続
stage-kex = 鍵交換
stage-hostkey = ホスト鍵
stage-cipher = 暗号
stage-mac = MAC
stage-compression = 圧縮
stage-auth = 認証
stage-emulation = エミュレーション
stage-timeout = タイムアウト
stage-login = ログイン
stage-jump = 踏み台
stage-interrupted = 中断

## 失敗コードの意味（英語は core/src/vocab.rs）
code-kex-no-common = 共通の鍵交換方式がない
code-hostkey-no-common = 共通のホスト鍵方式がない
code-cipher-no-common = 共通の暗号方式がない
code-mac-no-common = 共通の MAC がない
code-compression-no-common = 共通の圧縮方式がない
code-hostkey-changed = サーバーのホスト鍵がクライアントの知っているものと異なる
code-weak-crypto-refused = クライアントが警告するアルゴリズムで止まり、対話なしでは確認できない（plink: strict kex なしの chacha20-poly1305 や EtM MAC、Terrapin 攻撃）
code-auth-signature-rejected = サーバーが署名アルゴリズムを拒否した（例: ssh-rsa（SHA-1）が PubkeyAcceptedAlgorithms にない）
code-auth-key-too-small = 鍵がサーバーの RequiredRSASize（またはクライアント自身の下限）より小さい
code-auth-key-not-authorized = サーバーがこのユーザーでこの公開鍵を受け付けない
code-auth-no-signature-algorithm = クライアントがこの鍵に使える署名アルゴリズムを見つけられず、鍵を提示しない
code-auth-password-rejected = サーバーがパスワードを拒否した
code-auth-method-disabled = サーバーがその認証方式を提供していない（例: ロックダウン下のパスワード認証）
code-strictmodes-permissions = sshd の StrictModes が鍵ファイルやそのディレクトリの所有者・権限を拒否した
code-too-many-auth-failures = 認証失敗が MaxAuthTries に達してサーバーが切断した
code-key-load-failed = クライアントが鍵ファイルを読めない（対応していない形式か鍵の種類）
code-wrong-passphrase = パスフレーズで鍵ファイルを復号できない
code-connection-refused = 接続を受け付けるものがない
code-connection-closed = 判定の前にサーバーが接続を閉じた
code-source-penalized = 以前の失敗ログインなどでこの送信元アドレスにペナルティが課され、サーバーがしばらくすべての接続を拒否している（OpenSSH 9.8 以降の PerSourcePenalties）
code-protocol-error = 相手が正しい SSH でないものを送ってきた
code-timeout = セルのタイムアウトまでに判定が出なかった
code-auth-budget-exhausted = 保留: リモート接続先でのそのアカウントの失敗ログイン予算を使い切った
code-emulation-limit = 実際のクライアントが使うアルゴリズムをエミュレータが話せない
code-jump-host-refused = 接続先を試す前に踏み台（via）がクライアントを拒否した（理由は踏み台のもの）
code-not-observable = スキャンによる予測: ログインしないと決め手が見えない（クライアントが送る署名アルゴリズムをサーバーが受け付けるか、リリースから分からない場合）
code-agent-forwarding-refused = 踏み台がエージェント転送を拒否した（AllowAgentForwarding no）ため、次の段のクライアントに鍵がなかった
code-server-config-error = 判定なし: サーバーが自身の設定を使えなかった（展開できないパス、ホスト鍵がない）。クライアントではなく sshmatrix の環境の問題
code-foreign-connection = 判定なし: 別のローカルプロセスが先にセルのサーバーポートへ接続した
code-cert-ca-signature-refused = 証明書が拒否された（ユーザー証明書はサーバーが、ホスト証明書はクライアントが拒否）: CA の署名アルゴリズムが CASignatureAlgorithms にない（OpenSSH 8.2 以降の既定や RHEL 9 DEFAULT での ssh-rsa SHA-1）
code-cert-expired = 証明書が拒否された（ユーザー証明書はサーバーが、ホスト証明書はクライアントが拒否）: 有効期限が切れている
code-cert-not-yet-valid = 証明書が拒否された（ユーザー証明書はサーバーが、ホスト証明書はクライアントが拒否）: 有効期間がまだ始まっていない（または時計がずれている）
code-cert-principal-not-allowed = 証明書が拒否された（ユーザー証明書はサーバーが、ホスト証明書はクライアントが拒否）: ログイン名またはホスト名が証明書のプリンシパルにない
code-auth-partial-not-continued = サーバーは鍵を一段目として受け付け（部分的成功）、次の方式を求めたが（AuthenticationMethods）、クライアントが先へ進まなかった
code-auth-kbdint-refused = サーバーがキーボードインタラクティブの問いへの答えを拒否した（PAM が認めなかった）
code-hostkey-unverified = クライアントがサーバーのホスト鍵を検証できない: known_hosts の行も信頼するホスト CA もその鍵を保証せず、厳格に検査している
code-cert-source-not-allowed = サーバーが証明書を拒否: source-address 制約がクライアントのアドレスを含まない

## 弱い設定の規則（英語と出典は reports/weak.toml）
weak-sha1-user-signature-says = RSA ユーザー鍵の SHA-1 署名（ssh-rsa）
weak-sha1-user-signature-breaks = OpenSSH 8.8 以降の既定、RHEL 9 / AL2023 の DEFAULT ポリシー
weak-sha1-host-signature-says = ホスト鍵の SHA-1 署名（ssh-rsa）
weak-sha1-host-signature-breaks = OpenSSH 8.8 以降のクライアントの既定
weak-dsa-says = DSA ユーザー鍵
weak-dsa-breaks = OpenSSH 7.0 以降の既定（無効）、OpenSSH 10.0 以降（削除）
weak-dsa-host-says = DSA ホスト鍵（ssh-dss）
weak-dsa-host-breaks = OpenSSH 7.0 以降の既定（無効）、OpenSSH 10.0 以降（削除）
weak-small-rsa-says = 2048 ビット未満の RSA ユーザー鍵
weak-small-rsa-breaks = RHEL 9 の暗号ポリシー（RequiredRSASize 2048）
weak-sha1-kex-says = SHA-1 の鍵交換
weak-sha1-kex-breaks = RHEL 9 の DEFAULT ポリシー（SHA-1 鍵交換なし）、OpenSSH 7.0 以降の既定での group1-sha1
weak-cbc-or-rc4-cipher-says = CBC または RC4 の暗号
weak-cbc-or-rc4-cipher-breaks = OpenSSH 6.7 以降のサーバーの既定、RHEL 9 の DEFAULT ポリシー
weak-terrapin-chacha20-says = strict kex なしの chacha20-poly1305（Terrapin、CVE-2023-48795）
weak-terrapin-chacha20-breaks = PuTTY 0.80 以降（使う前に確認を求める。plink -batch は拒否）
weak-weak-mac-says = MD5 または切り詰めた MAC
weak-weak-mac-breaks = OpenSSH 6.7 以降のサーバーの既定、RHEL 9 の DEFAULT ポリシー
weak-not-post-quantum-says = 耐量子でない鍵交換
weak-not-post-quantum-breaks = まだ何も壊れないが、OpenSSH 10.1 以降のクライアントは警告する
