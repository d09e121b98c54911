/// The console's words in Japanese and English. Each operator picks one (their account's
/// `language`); a key missing from one table is a test failure (`ConsoleTextTests`), never a
/// blank on the page.
public enum ConsoleLanguage: String, Sendable, CaseIterable {
    case ja
    case en

    /// The other language, for the switch in the header.
    public var other: ConsoleLanguage { self == .ja ? .en : .ja }

    /// The table of this language's words, key → text.
    public var texts: [String: String] { self == .ja ? ConsoleText.japanese : ConsoleText.english }
}

enum ConsoleText {
    static let english: [String: String] = [
        "app": "Mamori", "tagline": "Botnet findings for the abuse desk",
        "overview": "Overview", "findings": "Findings", "cases": "Cases", "subscribers": "Subscribers", "audit": "Audit",
        "accounts": "Accounts", "settings": "Settings", "signOut": "Sign out", "signIn": "Sign in", "name": "Account name",
        "password": "Password", "language": "日本語", "languageName": "English", "signedInAs": "Signed in as",
        // Overview
        "flowRate": "Flow records per second, by exporter", "losses": "Decode errors and lost records per minute",
        "detectionLoad": "Detection: queued batches and shed records per minute", "findingsPerHour": "Findings per hour, last 24 hours",
        "casesPerHour": "Cases opened per hour, last 24 hours", "noData": "No data yet", "recordsPerSecond": "records/s",
        "perMinute": "per minute", "openCases": "Open cases", "findingsLast24h": "Findings in 24 h", "exporters": "Exporters",
        "health": "Health", "samplesNote": "Sampled every 10 seconds since the server started; charts show the last hour.",
        // Findings
        "kind": "Kind", "subject": "Subject", "score": "Score", "firstSeen": "First seen", "lastSeen": "Last seen", "detected": "Detected",
        "verdict": "Verdict", "subscriber": "Subscriber", "filter": "Filter", "minScore": "Minimum score", "all": "All",
        "sort": "Sort", "newest": "Newest first", "highestScore": "Highest score first", "lastSeenSort": "Last seen first",
        "previous": "Previous", "next": "Next", "pageOf": "Page", "summary": "Summary", "scoreBreakdown": "How the score was reached",
        "feature": "Feature", "value": "Value", "threshold": "Threshold", "crossed": "crossed", "cohort": "Cohort of subscriber hosts",
        "cohortSize": "Hosts in the cohort", "beaconPlot": "Contacts over time, one row per host",
        "intervals": "Intervals between contacts", "seconds": "s", "flowSamples": "Flow samples", "related": "Related findings",
        "actions": "Your verdict", "confirm": "Confirm", "falsePositive": "False positive", "allowlist": "False positive and allowlist",
        "note": "Note (optional)", "reasons": "Why", "none": "None", "family": "Family", "noFindings": "No findings match.",
        "verdictBy": "by", "attribution": "Attribution", "evidenceWindow": "Evidence window", "features": "Features",
        "source": "Source", "destination": "Destination", "protocol": "Protocol", "packets": "Packets", "bytes": "Bytes",
        "start": "Start", "verdictSaved": "Verdict recorded.", "allowlisted": "Verdict recorded; the endpoint is allowlisted.",
        // Cases
        "state": "State", "reference": "Reference", "opened": "Opened", "updated": "Updated", "legalBasis": "Legal basis",
        "decision": "Decision", "notices": "Notices", "outcome": "Outcome", "channel": "Channel", "consentHistory": "Consent history",
        "reveal": "Reveal the subscriber's identity",
        "revealReason": "Why it is needed (at least 10 characters, recorded in the audit log)",
        "revealButton": "Reveal", "revealedOnce": "Shown once: this page does not keep it. The reveal is in the audit log.",
        "revealDisabled": "Identity reveal is turned off (attribution.reveal).",
        "revealNone": "No identity data covers this case's address and time.",
        "closeCase": "Close the case", "closeReason": "Reason (at least 5 characters)", "closeAs": "Close as",
        "closed": "Closed", "remediated": "Remediated", "history": "History", "device": "Device", "noCases": "No cases.",
        "permitted": "permitted", "withheld": "withheld", "delivered": "delivered", "notDelivered": "not delivered",
        "findingsOfCase": "Findings behind the case", "anyState": "Any state", "escalated": "escalated",
        // Subscribers
        "pseudonym": "Pseudonym", "consent": "Consent", "noConsent": "No consent events recorded for this subscriber.",
        "subscriberLookup": "Look up a subscriber by pseudonym", "lookup": "Look up", "event": "Event", "recordedBy": "Recorded by",
        "casesOfSubscriber": "Cases of this subscriber", "contact": "Contact on file", "yes": "yes", "no": "no",
        // Audit
        "sequence": "#", "time": "Time", "actor": "Actor", "auditSubject": "About", "auditSummary": "What happened",
        "verify": "Verify the chain", "sound": "The chain is sound", "broken": "The chain is broken", "entries": "entries",
        "segments": "segments", "allKinds": "All kinds", "actorFilter": "Actor contains", "noAudit": "No entries match.",
        "verifiedAt": "Verified",
        // Accounts
        "role": "Role", "status": "Status", "disabled": "disabled", "locked": "locked", "active": "active", "changed": "Changed",
        "tokens": "Machine tokens", "scope": "Scope", "expires": "Expires", "created": "Created", "revoked": "revoked",
        "createdBy": "Created by", "never": "never", "tokenId": "Token", "expired": "expired", "actionsColumn": "Change",
        "languageColumn": "Language", "tokenName": "Name",
        "accountsHelp":
            "Every change here is checked against your role and written to the audit log first. The same can be done with the mamori user and mamori token commands, or the API.",
        "changeRole": "Set role", "disable": "Disable", "enable": "Enable", "unlock": "Unlock", "addAccount": "Add an account",
        "addAccountButton": "Add the account", "setPassword": "Set an account's password",
        "newPassword": "New password (12 characters or more)",
        // Sinkhole
        "sinkhole": "Sinkhole",
        "sinkholeOff": "The DNS sinkhole is off: mamori serve's configuration has no sinkhole: section (see docs/rpz.md).",
        "sinkholeZone": "Zone", "serial": "serial", "exemptionZoneLabel": "exemptions",
        "exemptedSubscribers": "opted-out subscribers exempted",
        "sinkholeEntries": "entries", "sinkholeFilter": "Name or address contains", "noSinkholeEntries": "No entries.",
        "trigger": "Name or address", "sinkholeAction": "Action", "entrySource": "From", "reason": "Why", "entryAdded": "Added",
        "remove": "Remove", "confirmRemoveEntry": "Remove this entry? The resolvers answer truly again within seconds.",
        "addSinkholeEntry": "Add an entry", "entryDays": "Days until it expires (0: never)", "addSinkholeButton": "Add to the sinkhole",
        "sinkholeHint":
            "A name covers its subdomains; an address rewrites every answer that points to it. Protected, popular and top-level names are refused. Every change is written to the audit log first, then sent to the resolvers by NOTIFY.",
        "entryAdded.flash": "Added; the resolvers are being told.", "entryRenewed.flash": "Renewed.",
        "entryRemoved.flash": "Removed; the resolvers are being told.",
        "setPasswordButton": "Set the password", "createToken": "Create a machine token", "validDays": "Valid for (days, 1–366)",
        "createTokenButton": "Create the token", "revoke": "Revoke", "tokenSecret": "Token (shown only now)",
        "tokenShownOnce":
            "Copy this token now into the file or environment variable your script reads (MAMORI_TOKEN). It is shown only in this answer; Mamori keeps only its digest.",
        "accountAdded": "The account was added.", "accountChanged": "The account was changed.", "passwordSet": "The password was set.",
        "tokenRevoked": "The token was revoked.", "noScope": "choose at least one permission for the token",
        "confirmRevoke": "Revoke this token? Scripts that use it stop working at once; this cannot be undone.",
        // Sharing
        "sharing": "Sharing", "sharingSources": "Where shared indicators come from", "sharingSource": "Source",
        "noSharingSources": "No peers and no imported files: see sharing.peers in docs/taxii.md, or mamori share import.",
        "sharingHeld": "Indicators", "lastPull": "Last pull", "bookmark": "Bookmark", "pullNow": "Pull now",
        "sharedIndicators": "Indicators held", "sharingFilter": "Value or name contains", "allSources": "every source",
        "noSharedIndicators": "No indicators.", "narrowFilter": "narrow the filter to see the rest",
        "indicatorName": "Name", "indicatorValues": "Addresses and names", "indicatorConstraint": "Ports, protocol",
        "confidence": "Confidence", "validUntil": "Valid until", "modifiedAt": "Version", "inSinkhole": "in the sinkhole",
        "sharingHint":
            "Addresses are matched in flows (a match says “shared by” its source); names go to the DNS sinkhole when sharing.sinkhole is configured. A revoked or expired indicator stops matching. Nothing imported is shared on.",
        "pulled.flash": "Pulled.",
        // Reports from outside
        "reports": "Reports", "reportTypes": "Reports taken, by type (since the server started)",
        "noReports": "No reports yet: mamori reports import, POST /api/v1/reports or reports.maildir (docs/reports.md).",
        "reportType": "Report type", "problem": "Problem", "files": "Files", "reportRows": "Rows",
        "attributedShare": "Found the subscriber", "attributed": "Attributed", "unattributed": "Nobody held it",
        "ambiguous": "Ambiguous", "outsideCarrier": "Not ours", "duplicates": "Again", "unmappedType": "Unmapped",
        "rejected": "Rejected", "lastDay": "Last day", "reportCases": "Open vulnerable-device and abuse-report cases",
        "noReportCases": "No open cases from reports.", "reportSource": "Reported by", "service": "Service",
        "daysReported": "Days reported", "endOfSupport": "end of support", "reportImports": "Last files taken",
        "noImports": "None yet.", "reportFile": "File", "received": "Received",
        "unattributedReports": "Reports nobody could be found for (newest first)", "noUnattributed": "None.",
        "reportedAt": "Reported at",
        "reportsHint":
            "The share counts only rows about the carrier's own addresses. A case is remediated when a complete daily report (reports.complete_daily_sources) no longer names the device.",
        // IP-phone fraud
        "fraud": "Phone fraud",
        "fraudOff": "IP-phone fraud detection is off: mamori serve's configuration has no telephony: section (see docs/fraud.md).",
        "blocksPending": "Blocks waiting for approval", "blocksActive": "Destinations blocked at the softswitch",
        "blocksEnded": "Blocks ended (latest)",
        "account": "Account", "fraudShare": "Fraudulent share", "fraudCalls": "Fraudulent / all calls · lines",
        "fraudTrend": "Share by hour", "fraudTrendHint": "The fraudulent share of its calls, hour by hour, oldest first (· no calls)",
        "applied": "Applied", "renewalOf": "renews", "endedAt": "Ended", "lift": "Lift", "liftReason": "why lift it",
        "confirmBlock": "Block calls to this destination at the softswitch now?",
        "confirmLift": "Let calls to this destination through again?",
        "hijackedLines": "Lines found hijacked", "noHijackedLines": "None.", "fraudSignals": "Signals", "fraudCallsShort": "Calls",
        "minutes": "Minutes", "destinations": "Destinations", "firstCall": "First call", "lastCall": "Last call",
        "accountsHidden": "Accounts are shown to those who may reveal identities.",
        "feedClocks": "Call-record feeds", "feedName": "Feed", "clockOffset": "Clock against the server",
        "clockState": "State", "recordsCorrected": "Records moved back", "clock.in_step": "in step",
        "clock.ahead": "ahead: its records are moved back", "clock.behind": "late: a slow clock, or records written late",
        "clock.unknown": "not estimated yet",
        "noSuchRule": "No rule waiting or in force has that id.",
        "blockApplied.flash": "Applied; the softswitch is being told.", "blockLifted.flash": "Lifted; the softswitch is being told.",
        "fraudHint":
            "A destination is blocked only while nearly all of its calls come from hijacked lines, and only for the fraud's period; emergency numbers, opted-out lines and trade ties always pass. Every approval and lift is written to the audit log under your name. The calls not to bill: mamori fraud report.",
        // BGP mitigation
        "bgp": "BGP", "bgpOff": "BGP mitigation is off: mamori serve's configuration has no bgp: section (see docs/bgp.md).",
        "killSwitchEngaged": "Kill switch engaged: every rule is withdrawn and none is announced",
        "bgpNeighbors": "Sessions with the routers", "neighbor": "Neighbour", "address": "Address", "sessionState": "State",
        "since": "Since", "families": "Families", "routesAdvertised": "Routes", "lastError": "Last error",
        "rulesPending": "Waiting for approval", "rulesActive": "Announced", "rulesDryRun": "Dry run (not announced)",
        "rulesRefused": "Refused by the safety rails (latest)", "noRules": "None.", "rule": "Rule", "bgpTrigger": "Trigger",
        "finding": "Finding", "approvedBy": "Approved by", "rail": "Rail", "at": "When",
        "approve": "Approve", "confirmApprove": "Announce this rule to the routers now?", "reject": "Reject",
        "rejectReason": "why not", "withdraw": "Withdraw", "confirmWithdraw": "Withdraw this rule from every router now?",
        "killSwitch": "Kill switch", "engageKillSwitch": "Withdraw everything and hold new rules",
        "confirmKill": "Withdraw every rule from every router and announce nothing until released?",
        "releaseKillSwitch": "Release the kill switch", "confirmRelease": "Let rules be announced again?",
        "bgpHint":
            "Every approval, rejection, withdrawal and use of the kill switch is written to the audit log under your name. Rules touching a protected prefix, too short, or past the caps are refused. The same can be done with mamori bgp or /api/v1/bgp.",
        "ruleApproved.flash": "Approved; the rule is being announced.", "ruleRejected.flash": "Rejected.",
        "ruleWithdrawn.flash": "Withdrawn from every router.", "killEngaged.flash": "Kill switch engaged: every rule withdrawn.",
        "killReleased.flash": "Kill switch released.",
        // Settings
        "effectiveConfiguration": "Effective configuration (secrets redacted)",
        // Errors
        "forbidden": "Your role does not allow this.", "notFound": "Not found.", "badRequest": "The request could not be used",
        "wrongLogin": "The account name or password is wrong, or the account is locked.",
        "peerLogin":
            "This is a peer account (another carrier): it reads and writes the shared TAXII collections with its name and password, and cannot sign in here.",
        "tooMany": "Too many attempts; wait a minute.",
        "csrf": "The form had expired or came from elsewhere. Reload the page and try again.", "back": "Back",
        "signInTitle": "Sign in to Mamori", "needSignIn": "Sign in to continue.",
    ]

    static let japanese: [String: String] = [
        "app": "Mamori", "tagline": "アビューズ対応のためのボットネット検知",
        "overview": "概要", "findings": "検知", "cases": "案件", "subscribers": "加入者", "audit": "監査ログ",
        "accounts": "アカウント", "settings": "設定", "signOut": "ログアウト", "signIn": "ログイン", "name": "アカウント名",
        "password": "パスワード", "language": "English", "languageName": "日本語", "signedInAs": "ログイン中",
        // Overview
        "flowRate": "エクスポータ別のフローレコード数（毎秒）", "losses": "デコードエラーと欠落レコード（毎分）",
        "detectionLoad": "検知処理：待ちバッチ数と間引いたレコード（毎分）", "findingsPerHour": "1時間ごとの検知数（直近24時間）",
        "casesPerHour": "1時間ごとの新規案件（直近24時間）", "noData": "まだデータがありません", "recordsPerSecond": "レコード/秒",
        "perMinute": "毎分", "openCases": "対応中の案件", "findingsLast24h": "24時間の検知", "exporters": "エクスポータ",
        "health": "状態", "samplesNote": "サーバ起動から10秒ごとに記録し、直近1時間を表示しています。",
        // Findings
        "kind": "種類", "subject": "対象", "score": "スコア", "firstSeen": "初観測", "lastSeen": "最終観測", "detected": "検知日時",
        "verdict": "判定", "subscriber": "加入者", "filter": "絞り込み", "minScore": "最低スコア", "all": "すべて",
        "sort": "並べ替え", "newest": "新しい順", "highestScore": "スコアの高い順", "lastSeenSort": "最終観測の新しい順",
        "previous": "前へ", "next": "次へ", "pageOf": "ページ", "summary": "概要", "scoreBreakdown": "スコアの内訳",
        "feature": "特徴量", "value": "値", "threshold": "しきい値", "crossed": "超過", "cohort": "通信していた加入者ホスト",
        "cohortSize": "ホスト数", "beaconPlot": "時間ごとの通信（1行が1ホスト）", "intervals": "通信間隔の分布", "seconds": "秒",
        "flowSamples": "フローの例", "related": "関連する検知", "actions": "判定を記録", "confirm": "正しい検知",
        "falsePositive": "誤検知", "allowlist": "誤検知として許可リストへ", "note": "メモ（任意）", "reasons": "理由", "none": "なし",
        "family": "マルウェア名", "noFindings": "該当する検知はありません。", "verdictBy": "記録者", "attribution": "加入者の特定",
        "evidenceWindow": "証拠の期間", "features": "特徴量", "source": "送信元", "destination": "宛先", "protocol": "プロトコル",
        "packets": "パケット", "bytes": "バイト", "start": "開始", "verdictSaved": "判定を記録しました。",
        "allowlisted": "判定を記録し、許可リストに追加しました。",
        // Cases
        "state": "状態", "reference": "案件番号", "opened": "開始", "updated": "更新", "legalBasis": "法的根拠", "decision": "判断",
        "notices": "通知", "outcome": "結果", "channel": "経路", "consentHistory": "同意の履歴", "reveal": "加入者の身元を開示",
        "revealReason": "開示が必要な理由（10文字以上、監査ログに記録されます）", "revealButton": "開示する",
        "revealedOnce": "この表示は一度限りで、保存されません。開示は監査ログに記録されました。",
        "revealDisabled": "身元の開示は無効です（attribution.reveal）。", "revealNone": "この案件のアドレスと時刻に該当する加入者情報がありません。",
        "closeCase": "案件を閉じる", "closeReason": "理由（5文字以上）", "closeAs": "閉じ方", "closed": "終了", "remediated": "対処済み",
        "history": "経過", "device": "機器", "noCases": "案件はありません。", "permitted": "許可", "withheld": "保留",
        "delivered": "送信済み", "notDelivered": "未送信", "findingsOfCase": "案件の元になった検知", "anyState": "すべての状態",
        "escalated": "エスカレーション済み",
        // Subscribers
        "pseudonym": "仮名", "consent": "同意", "noConsent": "この加入者の同意記録はありません。", "subscriberLookup": "仮名で加入者を検索",
        "lookup": "検索", "event": "内容", "recordedBy": "記録元", "casesOfSubscriber": "この加入者の案件", "contact": "連絡先の登録",
        "yes": "あり", "no": "なし",
        // Audit
        "sequence": "番号", "time": "日時", "actor": "実行者", "auditSubject": "対象", "auditSummary": "内容", "verify": "チェーンを検証",
        "sound": "チェーンは健全です", "broken": "チェーンが壊れています", "entries": "件", "segments": "セグメント", "allKinds": "すべての種類",
        "actorFilter": "実行者を含む", "noAudit": "該当する記録はありません。", "verifiedAt": "検証日時",
        // Accounts
        "role": "ロール", "status": "状態", "disabled": "無効", "locked": "ロック中", "active": "有効", "changed": "変更",
        "tokens": "マシントークン", "scope": "権限", "expires": "有効期限", "created": "作成", "revoked": "失効", "createdBy": "作成者",
        "never": "なし", "tokenId": "トークン", "expired": "期限切れ", "actionsColumn": "変更", "languageColumn": "言語", "tokenName": "名前",
        "accountsHelp": "ここでの変更はロールで確認し、先に監査ログに記録します。mamori user・mamori token コマンドまたは API でも同じことができます。",
        "changeRole": "ロールを設定", "disable": "無効にする", "enable": "有効にする", "unlock": "ロック解除", "addAccount": "アカウントを追加",
        "addAccountButton": "アカウントを追加", "setPassword": "アカウントのパスワードを設定", "newPassword": "新しいパスワード（12文字以上）",
        "setPasswordButton": "パスワードを設定", "createToken": "マシントークンを作成", "validDays": "有効日数（1〜366日）",
        "createTokenButton": "トークンを作成", "revoke": "失効させる", "tokenSecret": "トークン（今だけ表示）",
        "tokenShownOnce": "このトークンを今すぐ、スクリプトが読むファイルか環境変数（MAMORI_TOKEN）に写してください。表示はこの一度だけで、Mamori はダイジェストしか保存しません。",
        "accountAdded": "アカウントを追加しました。", "accountChanged": "アカウントを変更しました。", "passwordSet": "パスワードを設定しました。",
        "tokenRevoked": "トークンを失効させました。", "noScope": "トークンの権限を一つ以上選んでください",
        "confirmRevoke": "このトークンを失効させますか？使っているスクリプトはすぐに動かなくなります。元に戻せません。",
        // Sinkhole
        "sinkhole": "シンクホール", "sinkholeOff": "DNS シンクホールは無効です。mamori serve の設定に sinkhole: セクションがありません（docs/rpz.md を参照）。",
        "sinkholeZone": "ゾーン", "serial": "シリアル", "exemptionZoneLabel": "除外", "exemptedSubscribers": "オプトアウトした加入者（除外中）",
        "sinkholeEntries": "エントリ", "sinkholeFilter": "名前・アドレスに含む", "noSinkholeEntries": "エントリはありません。",
        "trigger": "名前またはアドレス", "sinkholeAction": "動作", "entrySource": "由来", "reason": "理由", "entryAdded": "追加",
        "remove": "削除", "confirmRemoveEntry": "このエントリを削除しますか？数秒でリゾルバは本来の応答に戻ります。",
        "addSinkholeEntry": "エントリを追加", "entryDays": "有効日数（0 は無期限）", "addSinkholeButton": "シンクホールに追加",
        "sinkholeHint":
            "名前はそのサブドメインも対象になります。アドレスは、そこを指すすべての応答を書き換えます。保護された名前・人気のある名前・トップレベルドメインは拒否されます。変更はまず監査ログに記録し、NOTIFY でリゾルバに伝えます。",
        "entryAdded.flash": "追加しました。リゾルバに通知しています。", "entryRenewed.flash": "更新しました。", "entryRemoved.flash": "削除しました。リゾルバに通知しています。",
        // Sharing
        "sharing": "共有", "sharingSources": "共有インディケータの入手元", "sharingSource": "入手元",
        "noSharingSources": "ピアもインポートしたファイルもありません。docs/taxii.md の sharing.peers か、mamori share import を参照してください。",
        "sharingHeld": "インディケータ数", "lastPull": "最終取得", "bookmark": "ブックマーク", "pullNow": "今すぐ取得",
        "sharedIndicators": "保持しているインディケータ", "sharingFilter": "値・名前に含む", "allSources": "すべての入手元",
        "noSharedIndicators": "インディケータはありません。", "narrowFilter": "残りを見るには条件を絞ってください",
        "indicatorName": "名前", "indicatorValues": "アドレスと名前", "indicatorConstraint": "ポート・プロトコル",
        "confidence": "確信度", "validUntil": "有効期限", "modifiedAt": "版", "inSinkhole": "シンクホール中",
        "sharingHint":
            "アドレスはフローと照合します（一致すると入手元を「shared by」で示します）。名前は sharing.sinkhole を設定すると DNS シンクホールに入ります。失効・期限切れのインディケータは照合しません。インポートしたものを他へ再共有することはありません。",
        "pulled.flash": "取得しました。",
        // 外部からの報告
        "reports": "外部報告", "reportTypes": "受け付けた報告（種類別、サーバ起動以降）",
        "noReports": "まだ報告はありません。mamori reports import、POST /api/v1/reports、reports.maildir を参照してください（docs/reports.md）。",
        "reportType": "報告の種類", "problem": "問題", "files": "ファイル数", "reportRows": "行数",
        "attributedShare": "加入者を特定", "attributed": "特定", "unattributed": "該当者なし",
        "ambiguous": "特定不能（複数）", "outsideCarrier": "自網外", "duplicates": "重複", "unmappedType": "未対応の種類",
        "rejected": "不正な行", "lastDay": "最終日", "reportCases": "未完了の脆弱機器・通報案件",
        "noReportCases": "報告による未完了の案件はありません。", "reportSource": "報告元", "service": "サービス",
        "daysReported": "報告日数", "endOfSupport": "サポート終了", "reportImports": "最近受け付けたファイル",
        "noImports": "まだありません。", "reportFile": "ファイル", "received": "受付日時",
        "unattributedReports": "加入者を特定できなかった報告（新しい順）", "noUnattributed": "ありません。",
        "reportedAt": "観測日時",
        "reportsHint":
            "特定の割合は自網のアドレスに関する行だけで数えます。毎日の完全な報告（reports.complete_daily_sources）に機器が載らなくなると、案件は対処済みになります。",
        // BGP mitigation
        // IP 電話の不正利用
        "fraud": "電話の不正利用", "fraudOff": "IP 電話の不正利用の検知は無効です。mamori serve の設定に telephony: セクションがありません（docs/fraud.md を参照）。",
        "blocksPending": "承認待ちの発信規制", "blocksActive": "交換機で発信を規制中の宛先", "blocksEnded": "終了した規制（最新）",
        "account": "契約者", "fraudShare": "不正な発信の割合", "fraudCalls": "不正 / 全発信 · 回線数",
        "fraudTrend": "時間ごとの割合", "fraudTrendHint": "発信に占める不正な発信の割合（1 時間ごと、古い順。· は発信なし）",
        "applied": "適用", "renewalOf": "更新元", "endedAt": "終了", "lift": "解除", "liftReason": "解除の理由",
        "confirmBlock": "この宛先への発信をいま交換機で規制しますか？", "confirmLift": "この宛先への発信の規制を解除しますか？",
        "hijackedLines": "乗っ取りが疑われる回線", "noHijackedLines": "ありません。", "fraudSignals": "兆候", "fraudCallsShort": "発信数",
        "minutes": "分", "destinations": "宛先", "firstCall": "最初の発信", "lastCall": "最後の発信",
        "accountsHidden": "契約者の識別子は、識別情報の開示を許された人にだけ表示されます。", "noSuchRule": "その ID の承認待ち・適用中の規制はありません。",
        "feedClocks": "通話記録の取得元", "feedName": "取得元", "clockOffset": "サーバとの時刻差", "clockState": "状態",
        "recordsCorrected": "補正した記録", "clock.in_step": "一致", "clock.ahead": "進んでいます（記録の時刻を補正）",
        "clock.behind": "遅れています（時計の遅れ、または記録の書き出しの遅れ）", "clock.unknown": "まだ推定できていません",
        "blockApplied.flash": "適用しました。交換機に反映しています。", "blockLifted.flash": "解除しました。交換機に反映しています。",
        "fraudHint":
            "宛先を規制するのは、その宛先への発信のほとんどが乗っ取られた回線からである間だけ、不正の続く期間だけです。緊急通報、規制を望まない回線、取引関係のある回線は常に通ります。承認と解除はあなたの名前で監査ログに記録されます。請求しない通話の一覧は mamori fraud report で。",
        "bgp": "BGP", "bgpOff": "BGP による緩和は無効です。mamori serve の設定に bgp: セクションがありません（docs/bgp.md を参照）。",
        "killSwitchEngaged": "キルスイッチ作動中：すべてのルールを取り消し、新しいルールは広報しません",
        "bgpNeighbors": "ルータとのセッション", "neighbor": "ネイバー", "address": "アドレス", "sessionState": "状態",
        "since": "開始", "families": "アドレスファミリ", "routesAdvertised": "経路数", "lastError": "最後のエラー",
        "rulesPending": "承認待ち", "rulesActive": "広報中", "rulesDryRun": "ドライラン（広報しない）",
        "rulesRefused": "安全装置が拒否したルール（最近）", "noRules": "ありません。", "rule": "ルール", "bgpTrigger": "契機",
        "finding": "検知", "approvedBy": "承認者", "rail": "安全装置", "at": "日時",
        "approve": "承認", "confirmApprove": "このルールを今すぐルータに広報しますか？", "reject": "却下",
        "rejectReason": "却下の理由", "withdraw": "取り消す", "confirmWithdraw": "このルールをすべてのルータから今すぐ取り消しますか？",
        "killSwitch": "キルスイッチ", "engageKillSwitch": "すべて取り消し、新しいルールを止める",
        "confirmKill": "すべてのルールをすべてのルータから取り消し、解除するまで何も広報しませんか？",
        "releaseKillSwitch": "キルスイッチを解除", "confirmRelease": "ルールの広報を再開しますか？",
        "bgpHint":
            "承認・却下・取り消し・キルスイッチの操作は、すべてあなたの名前で監査ログに記録されます。保護されたプレフィックスに触れるルール、短すぎるプレフィックス、上限を超えるルールは拒否されます。mamori bgp や /api/v1/bgp でも同じ操作ができます。",
        "ruleApproved.flash": "承認しました。ルールを広報しています。", "ruleRejected.flash": "却下しました。",
        "ruleWithdrawn.flash": "すべてのルータから取り消しました。", "killEngaged.flash": "キルスイッチを作動させました。すべてのルールを取り消しました。",
        "killReleased.flash": "キルスイッチを解除しました。",
        // Settings
        "effectiveConfiguration": "有効な設定（秘密の値は伏せています）",
        // Errors
        "forbidden": "このロールでは実行できません。", "notFound": "見つかりません。", "badRequest": "リクエストを処理できませんでした",
        "wrongLogin": "アカウント名かパスワードが違うか、アカウントがロックされています。",
        "peerLogin": "これはピア（他の通信事業者）用のアカウントです。共有 TAXII コレクションの読み書きに名前とパスワードで使うもので、ここにはサインインできません。", "tooMany": "試行回数が多すぎます。1分ほど待ってください。",
        "csrf": "フォームの有効期限が切れたか、別のサイトから送信されました。ページを再読み込みしてやり直してください。", "back": "戻る",
        "signInTitle": "Mamori にログイン", "needSignIn": "続けるにはログインしてください。",
    ]
}
