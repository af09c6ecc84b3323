"""Build tunelint's bundled sample datasets and their defect manifest from hand-written texts.

Every ticket and conversation below was written by hand for this project. The script only assembles
them into JSONL files and plants the documented defects at fixed places, so running
``python sample_datasets/make_samples.py`` reproduces the data byte for byte, and writes
``defects.json`` (file, 1-based physical line, expected check) from what it planted.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# --------------------------------------------------------------------------------------------
# support_tickets: single-label classification in OpenAI chat format
# --------------------------------------------------------------------------------------------

SUPPORT_SYSTEM_PROMPT = (
    "You are the ticket triage assistant for Quillstack customer support. Read the customer's "
    "ticket and reply with exactly one category: billing, outage, account, bug, feature_request "
    "or other. Reply with the category only, in lowercase, with no explanation."
)

# The prompt used by an earlier collection batch; three training rows still carry it.
SUPPORT_OLD_SYSTEM_PROMPT = (
    "You are a support triage bot for Quillstack. Classify the ticket into one of: billing, "
    "outage, account, bug, feature_request, other. Output only the category name."
)

LABELS = ["billing", "outage", "account", "bug", "feature_request", "other"]

TRAIN_TICKETS: dict[str, list[str]] = {
    "billing": [
        "I was charged twice for our Team plan this month, two identical charges of $96 on the "
        "3rd. Can one of them be refunded please?",
        "Our finance team says the invoices are missing our VAT ID, so they can't reclaim the tax. "
        "We entered it under company settings weeks ago. Can you reissue the last three invoices "
        "with it on?",
        "why did my bill go up?? it was 40 last month and now its 64, nobody added any users on "
        "our side",
        "We'd like to switch from monthly to annual billing. Does the annual discount apply "
        "straight away or only from the next renewal?",
        "My card got declined on renewal but there's nothing wrong with it, I used it an hour ago "
        "somewhere else. The account still says payment failed and there's a red banner on every "
        "page.",
        "Please send a copy of invoice INV-20431. Our accounts team can't find it.",
        "We downgraded from Business to Team on the 10th but the charge on the 1st of this month "
        "was still the Business price. I expected a prorated credit and I don't see one anywhere "
        "in the billing history. Can you check?",
        "Can we pay by bank transfer instead of card? Our finance dept doesnt allow company cards "
        "for software purchases.",
        "I cancelled my subscription last week and got charged AGAIN today. I have the "
        "cancellation confirmation email. I want this refunded immediately.",
        "How do I change where invoices are sent? They currently go to my personal inbox and I'd "
        "like them to go to our accounts payable team instead.",
        "The receipts just say Quillstack Inc. with no address. Our auditors need the full legal "
        "entity name and registered address on them, is that something you can add?",
        "removed 4 seats mid cycle, when does that show up on the bill",
        "Hello! We're a registered charity running a network of food banks. Do you offer any "
        "nonprofit pricing? Happy to send proof of our status.",
        "We're based in Manchester but get billed in USD, so every month the amount is slightly "
        "different after conversion. Can the account be switched to GBP?",
        "There is a charge from QUILLSTACK* TEAM on my credit card statement and I have no idea "
        "what it is. I never signed up for anything with you.",
        "Our trial ended and it automatically turned into a paid plan. We only added a card to "
        "test the PDF export, nobody told us it would start charging. Please reverse it, we're "
        "not ready to buy yet.",
        "Our AP system rejects any invoice without a purchase order number. Where can I add our PO "
        "so it gets printed on every invoice?",
        "You're charging us sales tax even though we uploaded our exemption certificate back in "
        "March. Please remove the tax and credit whatever we've paid since then.",
        "The upgrade screen says $12 per user but at checkout it's $15 per user. Which one is "
        "correct?",
        "We have three workspaces (sales, ops, engineering) and get three separate invoices every "
        "month. Is there any way to get one combined invoice?",
        "Paid with PayPal, the money has left my PayPal balance, but Quillstack says the account "
        "is past due. I can send a screenshot of the PayPal receipt if needed.",
        "bought the annual plan by mistake, I meant to click monthly. it was 2 days ago, can I get "
        "a refund and switch?",
        "We got an email saying our workspace will be suspended in 3 days for non-payment. We "
        "replaced the card last week, so is the new one actually on file or not?",
        "Coupon code SPRING20 didn't apply at checkout. Total was full price. Can you apply it "
        "retroactively?",
        "Is there a way to download all of last year's invoices in one go instead of clicking "
        "through each month? It's tax season and my accountant wants them all.",
        "Our company card expires at the end of next month. What's the safest way to update it so "
        "nothing gets interrupted?",
        "The billing page says we're paying for 23 seats but only 17 people show up under "
        "Members. Where are the other six coming from?",
        "Quick question: do guests that we add to a single project count as paid seats?",
        "The invoice total and the amount taken from our card don't match, off by about eight "
        "dollars. Is that a currency conversion thing or an error?",
        "Your platform was unavailable for most of Tuesday and your SLA promises 99.9% uptime. "
        "We'd like the service credit applied to our next invoice.",
        "We want to move from paying by card to ACH debit. What details do you need from us, and "
        "is there a form for it?",
        "Your sales rep promised us 20% off for the first year when we signed, but our first "
        "invoice is full price. I can forward the email thread.",
        "I'm the new office manager and need the billing history for our account. The previous "
        "admin left the company and nobody else had access to the invoices.",
        "Why am I paying for the Time Tracking add-on? I've never turned it on and nobody on my "
        "team uses it.",
        "We're on the free plan and still get an invoice emailed every month for $0.00. Can you "
        "stop sending those?",
        "Saw the new pricing page. Does the price change apply to existing customers, or do we "
        "stay on our old Team price?",
        "any update on my refund?? opened a ticket last tuesday and still nothing back on my card",
        "We received an invoice addressed to a completely different company, different name and "
        "different address. Looks like a mix-up on your side. Please correct it and make sure "
        "our invoice didn't go to them either.",
        "Finance would prefer to pay quarterly. Is quarterly billing an option on Business?",
        "HELP, I accidentally bought 50 seats instead of 5. Please fix it before the charge goes "
        "through!!",
        "The payment confirmation page just kept spinning and then timed out. My bank shows a "
        "pending charge of $180 but the account still says Free. Did the upgrade go through or "
        "not?",
        "Does the annual plan renew automatically? We'd want a reminder a few weeks before we're "
        "charged.",
        "We're moving our contract from our US entity to our new Canadian subsidiary. Can the "
        "subscription be transferred and billed to the Canadian company from the next cycle?",
        "Every month the renewal fails with 'payment requires authentication' and I have to log "
        "in and approve it by hand. Is there any way to set up the card so recurring payments go "
        "through on their own?",
    ],
    "account": [
        "Can't log in. The password reset email never arrives, I've checked spam and waited over "
        "an hour.",
        "how do i enforce two factor for everyone in our workspace? I can only find a setting to "
        "recommend it",
        "I lost my phone with the authenticator app on it and now I'm locked out of my account. I "
        "had backup codes but I can't find them anywhere. What can I do?",
        "I need to hand over ownership of our workspace to a colleague before I go on maternity "
        "leave. I'm currently the only owner.",
        "Please close my account. I don't work at the company that invited me anymore and I keep "
        "getting their notifications.",
        "My display name still shows my old surname. Where do I change it? Profile settings only "
        "lets me edit the photo.",
        "We merged two teams and now a few people have two Quillstack accounts each. Can the "
        "accounts be merged so people keep their task history?",
        "Account locked after too many attempts. It says try again in 30 minutes but it's been two "
        "hours and it still says locked",
        "How do I remove a former employee from the workspace without deleting the docs and tasks "
        "they created?",
        "I've invited an external contractor three times now and each time the invite link says "
        "it has expired as soon as they click it.",
        "I want to change the email I log in with from my personal address to my work one, "
        "without losing my stuff.",
        "Is there a way to see a list of everyone with admin rights in our workspace? I suspect "
        "too many people have been made admins over the years.",
        "The SSO configuration page is greyed out for me even though I'm a workspace owner. Is SSO "
        "only available on Business?",
        "Ever since I changed my password on the desktop app, the phone app logs me out every few "
        "minutes.",
        "Can I have two separate workspaces under one login? One for my freelance clients and one "
        "for my day job.",
        "I'm a guest in a client's workspace and get 'Your organization requires SSO' when I log "
        "in with my password. I'm not part of their organization, so SSO won't work for me.",
        "One of my team members got a new phone and can't get her 2FA codes anymore. I'm the "
        "admin, can I reset it for her?",
        "How do I make someone a billing admin so they can see invoices, without giving them "
        "access to every project?",
        "i signed up with google login, now i want a normal password so i can use the desktop app "
        "at work where google is blocked. how?",
        "Our company domain is changing from northpeak.io to northpeak.com next week. Can all the "
        "login emails be updated in bulk, or does everyone have to do it themselves?",
        "Someone logged into my account from a country I've never been to. I've changed my "
        "password already, but I'd like to know what they looked at or changed.",
        "Why does it say my account is deactivated?? I logged in fine yesterday and nobody told me "
        "anything.",
        "We only want people with our company email domain to be able to join our workspace. Is "
        "there a way to block everyone else from signing up?",
        "I'm an admin but the Members tab has disappeared from my settings. Did my role change "
        "without me knowing?",
        "The magic login link opens a blank page on my work laptop. Probably our proxy. Is there "
        "another way to sign in?",
        "I closed my account by mistake in settings last night, thought I was removing a project. "
        "Can you reactivate it? Everything I had was in there.",
        "How many owners can a workspace have? We'd like at least two so we're not stuck if "
        "someone leaves.",
        "A guest I shared one project with can see the names of all our other projects in the "
        "sidebar. How do I stop that?",
        "The verification code comes by text but it has always expired by the time it reaches me, "
        "usually a few minutes later.",
        "My colleague left last week and it was his account that connected our Slack integration. "
        "If we deactivate him, will the integration stop working?",
    ],
    "bug": [
        "Exporting a doc to PDF cuts off the last column of every table. Happens with any doc that "
        "has a table wider than about 5 columns.",
        "The date picker in task details is one day off. I pick the 14th and it saves as the 13th. "
        "We're in Sydney if that matters.",
        "CSV export garbles accented characters, é shows up as Ã©. Opening it in Excel on "
        "Windows.",
        "Clicking 'Mark all as read' in notifications does nothing, the badge is stuck at 47.",
        "When I drag a task to another column on the board it jumps back to the original column "
        "after a second. Same in Chrome and Firefox, tried with extensions off.",
        "the timer in the time tracking widget keeps running after I hit stop, then i end up with "
        "9 hour entries i never worked. have to delete them by hand every day",
        "Mentions don't autocomplete in comments anymore. Typing @ just opens an empty dropdown.",
        "iOS app shows yesterday's tasks under Today. Pull to refresh doesn't change anything.",
        "Search finds docs by title but not by words inside them, even docs I wrote last week. It "
        "used to work.",
        "Recurring tasks set to 'every weekday' are also being created on Saturdays.",
        "If I paste a table from Google Sheets into a doc it looks fine until I save, then every "
        "cell gets merged into one big cell.",
        "Mac desktop app shows a blank white window after the latest update. Reinstalled twice, "
        "restarted, same thing.",
        "Webhook payloads for task.updated have been missing the assignee field since yesterday's "
        "release. Our integration depends on that field.",
        "The tasks API returns a 500 when I filter by a custom field that has an emoji in its "
        "name. Without the emoji it works.",
        "In dark mode the text in code blocks is black on dark grey. Basically unreadable.",
        "For people in more than one workspace, the links in notification emails open the wrong "
        "workspace and show 'task not found'.",
        "Uploading images over about 5 MB fails silently. The progress bar reaches 100% and then "
        "the image just isn't there.",
        "Dependencies in the Gantt view disappear as soon as I zoom out to the quarter view. "
        "Zooming back in brings them back.",
        "Sorting by due date puts the tasks with no due date at the top instead of at the bottom.",
        "Ctrl+Z in the doc editor deletes the whole paragraph instead of undoing the last word I "
        "typed. Lost work twice today because of this.",
        "Since we connected Jira every comment is duplicated, once under my name and once as "
        "Quillstack Bot.",
        "Time report totals are wrong. The individual entries add up to 38.5h but the weekly total "
        "at the bottom says 41h.",
        "Typing Korean in the doc editor drops the last syllable whenever I press space.",
        "The 'Copy link' button gives a link that 404s for anyone who isn't logged in, even on "
        "docs that are set to public.",
        "Checklist items randomly uncheck themselves when two of us have the same task open at the "
        "same time.",
        "Android home screen widget hasn't refreshed since I updated my phone to Android 14.",
        "The N shortcut for new task fires while I'm typing in the comment box, so I keep creating "
        "empty tasks without noticing.",
        "printing the board only prints the first 3 columns, the rest is cut",
    ],
    "outage": [
        "Is Quillstack down? Getting 502 Bad Gateway on every page.",
        "All our API requests are timing out since 14:05 UTC. Your status page says everything is "
        "operational.",
        "Nobody in our office can load the app right now. We tried different networks and a phone "
        "hotspot, same thing.",
        "Sync has stopped for our whole team. Changes made on desktop an hour ago still aren't "
        "showing on web or mobile.",
        "Something is wrong with the EU region, pages take 30+ seconds to load for all of us.",
        "Email notifications stopped arriving for everyone in our workspace since last night. "
        "Nothing in spam either.",
        "Login page just says 'Service unavailable'. Is there an incident going on?",
        "None of our webhooks have fired in the last three hours and the delivery log is empty.",
        "File uploads are failing for the whole team with a 'storage error' message.",
        "The app loads but search returns nothing for anyone. Whole company is basically blocked "
        "right now.",
        "urgent - site is down for us in Singapore, our London colleagues say it works for them",
        "Mobile app says it can't reach the server, both on wifi and 4G. The website isn't loading "
        "either.",
        "Every Zapier zap connected to Quillstack has been failing with 503 since this morning.",
        "Real-time collaboration is broken. We can't see each other's edits until we refresh the "
        "page.",
        "Intermittent 504s on the REST API, roughly one call in five. Started around midnight and "
        "hasn't stopped.",
        "Dashboards won't load for anyone on the team, just a grey box where the charts should be.",
        "Are you having an outage? SSO logins are failing for our entire org and password logins "
        "too.",
        "Slack notifications from Quillstack stopped in every channel at the same moment around "
        "lunchtime.",
        "The whole workspace went read-only all of a sudden. Can't edit anything and there's a "
        "'maintenance' banner, but nothing was announced.",
        "Exports have been stuck in 'queued' for everyone since yesterday afternoon.",
    ],
    "other": [
        "Do you have a partner program for agencies? We set Quillstack up for a lot of our clients "
        "and would like to formalise that.",
        "Just wanted to say the new board view is fantastic. Our standups are twice as fast now. "
        "Thanks to whoever built it!",
        "Are you hiring support engineers in Lisbon? Couldn't find a careers page.",
        "Our security team needs a completed vendor security questionnaire and a copy of your SOC "
        "2 report before we roll out to more departments. Who should I send the questionnaire to?",
        "Could we book a demo for our leadership team sometime next week?",
        "Is there an on-premise version of Quillstack we could host on our own servers?",
        "Hi, I'm writing a piece about remote work tools for a trade magazine and would love to "
        "interview someone from your product team.",
        "Do you sponsor open source projects? We maintain a small scheduling library and plan all "
        "our releases in Quillstack.",
        "Your sales person hasn't answered my emails in two weeks. Is he still with the company?",
        "What's the difference between Quillstack and Quillstack Docs? Are they separate products "
        "or the same thing?",
        "Are we allowed to use your logo on a slide listing the tools our team uses? It's for a "
        "conference talk.",
        "test ticket please ignore, checking that our helpdesk integration creates tickets",
        "Do you run training sessions for new teams? We're onboarding around 40 people next month.",
        "I received a letter in the post from Quillstack asking me to confirm my home address. Is "
        "that legitimate or a scam?",
    ],
    "feature_request": [
        "Would love to set different working hours per person in the workload view. Our "
        "part-timers always show as overloaded.",
        "Please add bulk editing for due dates. Moving 60 tasks one at a time after a project "
        "slipped was painful.",
        "Any plans for a Linux desktop app? About half our engineers are on Ubuntu.",
        "It would be great if time reports could be exported straight into Xero instead of going "
        "through CSV.",
        "Feature idea: let us pin a comment to the top of a task so the final decision doesn't get "
        "buried under 40 replies.",
        "Can you add an option to hide weekends in the calendar view?",
        "We need an audit log showing who viewed a doc, not just who edited it. It's a compliance "
        "requirement for us.",
        "pls support markdown tables in comments, not only in docs",
    ],
}

# Tickets that carry a planted defect or are the source of one, by key.
SPECIAL_TICKETS: dict[str, tuple[str, str]] = {
    "pii-email": (
        "account",
        "Hi, I changed jobs and need my Quillstack login moved off my old work address. The "
        "account is registered under dana.whitfield@example.com, which I can still read for a few "
        "more days. Can you send the verification link there so I can switch it to my new "
        "address?",
    ),
    "pii-phone": (
        "billing",
        "We've been billed twice for two months running and my emails aren't being answered. "
        "Could someone from billing please call me on +44 20 7946 0958? I'm around most "
        "afternoons and it would be much quicker to sort out by phone.",
    ),
    "secret-aws": (
        "bug",
        "Our S3 export integration fails every night with 'AccessDenied'. The IAM user has "
        "s3:PutObject on the bucket and works fine from the AWS CLI. These are the credentials we "
        "entered in the integration settings: access key AKIAEXAMPLE7Q2XK3ZTM, region eu-west-1. "
        "Is the integration maybe writing to a different region by default?",
    ),
    "near-a": (
        "billing",
        "Hi there, we were charged for 18 seats on this month's invoice but our workspace only had "
        "12 active members the whole month. Six people were deactivated back in January and the "
        "billing page still seems to count them as paid seats. Could you please correct the "
        "invoice and refund the difference to the card on file? Our finance team needs the "
        "corrected copy before the end of the month. Thanks",
    ),
    "near-b": (
        "bug",
        "Since this morning the Android app crashes every time I open a project with more than a "
        "few hundred tasks. Smaller projects open fine. I'm on a Pixel 7 with the latest version "
        "from the Play Store and I've already tried clearing the cache and reinstalling. The crash "
        "happens right after the task list starts loading: the screen goes white and then the app "
        "closes without any error message. The web version works fine for the same projects, so "
        "it seems to be only the app.",
    ),
    "leak-near-source": (
        "account",
        "Our company moved from Okta to Azure AD over the weekend and now nobody on the design "
        "team can sign in with SSO. The error page says the SAML response is missing the email "
        "attribute. Everyone else in the company logs in without problems, it's only the people "
        "in the design group. We've double checked that the attribute mapping is identical for "
        "every group in Azure. Any idea what else could be different for them?",
    ),
    "conflict": (
        "outage",
        "Dashboard won't load for me since about 10am, just a spinning wheel forever. Other "
        "websites work fine and my colleagues haven't said anything.",
    ),
}

# Hand-edited copies: 2-3 words changed against the special ticket they copy.
NEAR_A_COPY = (
    "Hello again, we were charged for 18 seats on this month's invoice but our workspace only "
    "had 12 active members the whole month. Six people were deactivated back in January and the "
    "billing page still seems to count them as paid seats. Could you please correct the invoice "
    "and refund the difference to the card on file? Our finance team needs the corrected copy "
    "before the end of the month. Cheers"
)
NEAR_B_COPY = (
    "Since this morning the Android app crashes every time I open a project with more than a few "
    "hundred tasks. Smaller projects open fine. I'm on a Pixel 7 with the latest version from the "
    "Play Store and I've already tried clearing the cache and reinstalling. The crash happens "
    "right after the task list starts loading: the screen goes white and then the app closes "
    "without any error message. The web version works fine for the same projects, so it seems to "
    "be an app problem."
)
LEAK_NEAR_COPY = (
    "Our agency moved from Okta to Azure AD over the weekend and now nobody on the design team "
    "can sign in with SSO. The error page says the SAML response is missing the email attribute. "
    "Everyone else in the company logs in without problems, it's only the people in the design "
    "group. We've double checked that the attribute mapping is identical for every group in "
    "Azure. Any idea what else could be different for that team?"
)
# A record cut off mid-write: the line ends inside the user's content string.
TRUNCATED_TICKET = (
    "Hi, the Outlook calendar sync stopped pulling in new meetings right after we renewed our "
    "Microsoft 365 licences. Existing events are still there but anything created since then is "
    "missing."
)
TRUNCATE_AFTER = "right after we renewed our Micro"

TEST_TICKETS: dict[str, list[str]] = {
    "billing": [
        "We're being charged for the Business plan, but the settings page says we're on Team. "
        "Which one is it, and if it's Team can we get the difference back?",
        "Need an invoice with our company registration number on it, otherwise I can't get "
        "reimbursed.",
        "How do refunds work if we cancel halfway through an annual subscription? Pro rata, or "
        "nothing back?",
        "The card on file belongs to an employee who left in the spring. I'd like to replace it "
        "with the company card but the billing page won't let me remove the old one.",
        "Got charged a $3 'international fee' on top of the subscription. What is that?",
        "Can we get net-30 payment terms on invoices?",
        "Our invoice lists 15 paid seats but we bought 10, plus the 5 free seats from the "
        "onboarding promo.",
        "pls stop charging me, I deleted the workspace months ago and there's nothing in it",
        "Does the Team plan price include VAT or is it added at checkout? Trying to get a budget "
        "approved.",
        "We prepaid for twelve months in October, but the dashboard says our plan renews next "
        "month. That can't be right?",
        "How can I download every receipt since we signed up? Our bookkeeper switched software and "
        "needs them re-imported.",
    ],
    "account": [
        "My 2FA codes are always rejected, even though the time on my phone is set automatically. "
        "I can't get in at all.",
        "Please add a second owner to our workspace. The current owner is on parental leave and "
        "we can't change any settings.",
        "Changed my email in profile settings, but the confirmation link says 'invalid token'.",
        "Can guests be given edit rights on one doc but view-only everywhere else?",
        "Our IT team wants to disable Google sign-in and force everyone through SSO. Where's that "
        "setting?",
        "Somehow my account is now linked with my husband's, we can see each other's private "
        "tasks. We have separate emails.",
        "How do I leave a workspace I was added to by mistake? There's no leave button that I can "
        "see.",
    ],
    "bug": [
        "Board filters reset every time I switch to another tab and come back.",
        "When I export a doc to Word all the images are missing, just empty boxes with the alt "
        "text.",
        "Comment timestamps are always 2 hours ahead of my actual time, even after I set my "
        "timezone in the profile.",
        "Two-column layouts in docs collapse into a single column on iPad, even in landscape.",
        "API pagination returns the same page twice if a task gets updated while I'm paging "
        "through results.",
        "The Windows desktop app uses about 4GB of memory after a few hours and gets really "
        "sluggish.",
        "Custom fields of type currency round 19.99 up to 20.",
        "Clicking a comment notification opens the task but doesn't scroll to the comment, so I "
        "have to hunt for it.",
    ],
    "outage": [
        "Whole team getting 'Something went wrong' on login this morning. Incident?",
        "API returning 503 for every endpoint right now, including the health check.",
        "Docs won't save for anyone in our workspace, there's a 'connection lost, retrying' banner "
        "that never goes away.",
        "Desktop and mobile apps are both stuck on the loading screen, started about 20 minutes "
        "ago for the whole office.",
        "Calendar sync to Google stopped for our entire organisation at the same time yesterday.",
        "Is there a problem in the US East region? Nothing loads for anyone in our Boston office.",
    ],
    "other": [
        "Do you have a reseller agreement for public sector customers?",
        "Who should I talk to about a co-marketing webinar with your team?",
        "Love the product. That's all, no issue :)",
        "Is Quillstack usable with screen readers? Procurement needs a VPAT before we can sign.",
    ],
    "feature_request": [
        "Could you add recurring checklists inside tasks? Our weekly QA list has to be recreated "
        "every single time.",
        "Would be nice to have a read-only link for time reports that we can share with clients.",
    ],
}

# Production inputs as the deployed model receives them (user_template already applied).
PRODUCTION_TICKETS: list[str] = [
    "Charged twice for the same month again, that's the second time this year.",
    "How do I add someone as a billing contact without making them an admin?",
    "The mobile app logs me out whenever I switch to another app and come back.",
    "Can't upload attachments bigger than 10MB. Is that a plan limit?",
    # data-protection request (a topic the training set lacks)
    "Under GDPR I'd like a copy of all personal data you hold about me. Please confirm you've "
    "received this request.",
    "Time entries I logged on Monday have vanished from my timesheet.",
    "Hola, me cobraron dos veces la suscripción de este mes. ¿Pueden devolverme uno de los "
    "cargos?",
    "Getting 429 Too Many Requests from the API even though we only make about 20 calls a minute.",
    "Our workspace still shows the old logo even after we uploaded a new one yesterday.",
    "Data subject access request: please export everything linked to my account, including "
    "activity logs and login IP history.",
    "Is the whole app down? Nothing is loading for me or my team.",
    "Is there a way to get invoices in EUR instead of USD?",
    "No puedo iniciar sesión, el enlace para restablecer la contraseña nunca llega a mi correo.",
    "We want to go from Team to Business in the middle of our billing cycle. How does that get "
    "charged?",
    "We're leaving Quillstack and need a full export of our workspace data (docs, tasks, comments "
    "and attachments) in a machine-readable format before the contract ends.",
    "can't find the archive button for old projects anymore??",
    "SSO login loops straight back to the login page, but only for people we hired this month.",
    "La aplicación no carga desde esta mañana, sale un error 502 en todas las páginas.",
    "Would really like a burndown chart for sprints.",
    "I left the company that used your service. Please erase my personal data under Article 17 "
    "GDPR and confirm when it's done.",
    "Board view freezes completely when a column has more than 200 cards.",
    "My invite email went to spam and now the link has expired. Can you resend it?",
    "¿Es posible cambiar la moneda de facturación a euros? Somos una empresa en Valencia.",
    "Can we pause our subscription over the summer while the office is closed?",
    "How long do you keep personal data after a workspace is deleted? Our DPO needs it for our "
    "records of processing.",
    "Notifications show up twice on the desktop app.",
    "Refund for unused seats please, we downsized from 30 people to 18.",
    "Cuando exporto un documento a PDF, las tablas se cortan por la derecha.",
    "Reports page has been loading for ten minutes straight.",
    "The 'Export workspace' button gives us a zip with only the docs, no tasks or time entries. "
    "We need everything for a data portability request.",
    "Does Quillstack integrate with Microsoft Teams?",
    "Password reset link says it has already been used, but I only just requested it.",
    "Necesito la factura de marzo con el NIF de la empresa, la que recibimos no lo tiene.",
    "Why is there a charge for 'Storage add-on' on our latest invoice?",
    "After the update the sidebar is gone in the web app.",
    "Our legal team needs your signed data processing agreement and the current list of "
    "subprocessors before we can renew.",
    "Can you tell me when our contract renews? I can't see it anywhere in settings.",
    "Los comentarios aparecen desordenados en la app de iPhone.",
    "Comment threads are out of order on iOS, newest replies show up in the middle.",
    "Is there a way to recover a doc that someone on my team deleted yesterday?",
]


@dataclass
class Row:
    """One physical line of an output file, with the defects planted on it."""

    key: str
    text: str
    defects: list[dict[str, Any]] = field(default_factory=list)


def chat_record(system: str, ticket: str, label: str | None) -> dict[str, Any]:
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Ticket: {ticket}"},
    ]
    if label is not None:
        messages.append({"role": "assistant", "content": label})
    return {"messages": messages}


def dump(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def defect(check: str, what: str, pointer: str | None = None, related: str | None = None) -> dict:
    item: dict[str, Any] = {"check": check, "what": what}
    if pointer is not None:
        item["pointer"] = pointer
    if related is not None:
        item["related_key"] = related
    return item


def build_support_train() -> list[Row]:
    """Return the training rows in file order, defects planted."""
    tickets: dict[str, tuple[str, str]] = {}
    for label, texts in TRAIN_TICKETS.items():
        for i, text in enumerate(texts):
            tickets[f"{label}-{i}"] = (label, text)
    tickets.update(SPECIAL_TICKETS)

    keys = sorted(tickets)
    # A fixed seed keeps the file order, and so every documented line number, stable.
    random.Random(1729).shuffle(keys)

    system_for = {k: SUPPORT_SYSTEM_PROMPT for k in keys}
    label_for: dict[str, str | None] = {k: tickets[k][0] for k in keys}
    defects: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}

    for key, variant in [
        ("billing-4", "Billing"),
        ("billing-19", "billing "),
        ("billing-30", "BILLING"),
        ("outage-7", "Outage"),
    ]:
        label_for[key] = variant
        defects[key].append(
            defect("label-variants", f"label written {variant!r} instead of "
                   f"{variant.strip().lower()!r}", "/messages/2/content")
        )
    for key in ["account-5", "bug-9", "other-4"]:
        system_for[key] = SUPPORT_OLD_SYSTEM_PROMPT
        what = "older system prompt from an earlier collection batch"
        defects[key].append(defect("system-prompt-variants", what, "/messages/0/content"))
        defects[key].append(
            defect("deployment-mismatch", what + "; differs from deployment.toml system_prompt",
                   "/messages/0/content")
        )
    label_for["bug-21"] = "N/A"
    defects["bug-21"].append(
        defect("placeholder-output", "assistant output is the placeholder 'N/A'",
               "/messages/2/content")
    )
    label_for["account-24"] = ""
    defects["account-24"].append(
        defect("empty-content", "assistant content is the empty string", "/messages/2/content")
    )
    label_for["billing-36"] = None
    defects["billing-36"].append(
        defect("missing-assistant-turn", "record has system and user turns only")
    )
    defects["pii-email"].append(
        defect("pii", "customer email address in the user ticket", "/messages/1/content")
    )
    defects["pii-phone"].append(
        defect("pii", "customer phone number in the user ticket", "/messages/1/content")
    )
    defects["secret-aws"].append(
        defect("secret", "AWS access key ID pasted in the user ticket", "/messages/1/content")
    )

    rows = [
        Row(k, dump(chat_record(system_for[k], tickets[k][1], label_for[k])), defects[k])
        for k in keys
    ]

    exact_source = "billing-28"
    ws_source = "bug-6"
    ws_ticket = (tickets[ws_source][1].replace("Typing @", "typing  @")
                 .replace("Mentions", "MENTIONS"))
    extras = [
        # (row, key it must follow, offset after that key's position)
        (Row("dup-exact", rows[keys.index(exact_source)].text,
             [defect("exact-duplicate", "byte-identical copy of an earlier row",
                     related=exact_source)]), exact_source, 47),
        (Row("dup-case-ws", dump(chat_record(SUPPORT_SYSTEM_PROMPT, ws_ticket, "bug")),
             [defect("exact-duplicate", "copy of an earlier row differing only in case and "
                     "whitespace", related=ws_source)]), ws_source, 41),
        (Row("near-a-copy", dump(chat_record(SUPPORT_SYSTEM_PROMPT, NEAR_A_COPY, "billing")),
             [defect("near-duplicate", "same ticket with 3 words edited (greeting, sign-off)",
                     related="near-a")]), "near-a", 33),
        (Row("near-b-copy", dump(chat_record(SUPPORT_SYSTEM_PROMPT, NEAR_B_COPY, "bug")),
             [defect("near-duplicate", "same ticket with its last 3 words edited",
                     related="near-b")]), "near-b", 17),
        (Row("conflict-copy", dump(chat_record(SUPPORT_SYSTEM_PROMPT,
                                               SPECIAL_TICKETS["conflict"][1], "bug")),
             [defect("conflicting-outputs", "same system prompt and ticket as an earlier row "
                     "labelled 'outage', labelled 'bug' here", "/messages/2/content",
                     related="conflict")]), "conflict", 9),
    ]
    for row, after, offset in extras:
        position = [r.key for r in rows].index(after) + offset
        assert position < len(rows), f"{row.key} would land past the end"
        rows.insert(position, row)

    full = dump(chat_record(SUPPORT_SYSTEM_PROMPT, TRUNCATED_TICKET, "bug"))
    cut = full[: full.index(TRUNCATE_AFTER) + len(TRUNCATE_AFTER)]
    rows.insert(71, Row("truncated", cut, [defect("invalid-json", "line truncated mid-string")]))
    return rows


def build_support_test(train: list[Row]) -> list[Row]:
    texts = [(label, t) for label, ts in TEST_TICKETS.items() for t in ts]
    random.Random(31337).shuffle(texts)
    rows = [
        Row(f"test-{i}", dump(chat_record(SUPPORT_SYSTEM_PROMPT, t, label)))
        for i, (label, t) in enumerate(texts)
    ]
    by_key = {r.key: r for r in train}
    leaks = [
        (8, Row("leak-1", by_key["billing-26"].text,
                [defect("test-leakage", "verbatim copy of a training row", related="billing-26")])),
        (19, Row("leak-2", by_key["bug-2"].text,
                 [defect("test-leakage", "verbatim copy of a training row", related="bug-2")])),
        (30, Row("leak-near", dump(chat_record(SUPPORT_SYSTEM_PROMPT, LEAK_NEAR_COPY, "account")),
                 [defect("test-leakage", "near-copy of a training ticket (3 words edited)",
                         related="leak-near-source")])),
    ]
    for position, row in leaks:
        rows.insert(position, row)
    return rows


SUPPORT_DEPLOYMENT = f'''# How the ticket classifier is deployed; tunelint checks data against it.
[deployment]
system_prompt = {json.dumps(SUPPORT_SYSTEM_PROMPT)}
user_template = "Ticket: {{ticket}}"
labels = {json.dumps(LABELS)}
max_seq_len = 512
tokenizer = "estimate"
'''

# --------------------------------------------------------------------------------------------
# agent_chat: tool-calling customer-support conversations
# --------------------------------------------------------------------------------------------

AGENT_SYSTEM_PROMPT = (
    "You are the customer support assistant for Fernhill, an online home goods store that ships "
    "within the United States. Help customers with their orders: look up order status, refund "
    "orders that qualify under the return policy, and change the shipping address of orders that "
    "have not shipped yet. Use the tools for anything about a specific order and never guess "
    "order details. Keep replies short, warm and plain."
)

ORDER_ID = {"type": "string", "pattern": "^ORD-[0-9]{6}$"}

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up an order: status, items, shipping address and tracking.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": ORDER_ID},
                "required": ["order_id"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "issue_refund",
            "description": "Refund all or part of an order to the original payment method.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": ORDER_ID,
                    "amount": {"type": "number", "exclusiveMinimum": 0,
                               "description": "US dollars"},
                    "reason": {"type": "string",
                               "enum": ["damaged", "wrong_item", "not_received",
                                        "late_delivery", "changed_mind"]},
                },
                "required": ["order_id", "amount", "reason"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "update_address",
            "description": "Change the shipping address of an order that has not shipped yet.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": ORDER_ID,
                    "address": {
                        "type": "object",
                        "properties": {
                            "street": {"type": "string"},
                            "line2": {"type": "string"},
                            "city": {"type": "string"},
                            "state": {"type": "string", "pattern": "^[A-Z]{2}$"},
                            "postcode": {"type": "string"},
                        },
                        "required": ["street", "city", "postcode"],
                        "additionalProperties": False,
                    },
                },
                "required": ["order_id", "address"],
                "additionalProperties": False,
            },
        },
    },
]

AGENT_DEPLOYMENT = f'''# How the support agent is deployed; tunelint checks the data against it.
[deployment]
system_prompt = {json.dumps(AGENT_SYSTEM_PROMPT)}
tools = "tools.json"
max_seq_len = 1024
tokenizer = "estimate"
'''


@dataclass
class Call:
    """One tool call; `result=None` leaves the call without a tool message."""

    name: str
    args: dict[str, Any] | str
    result: dict[str, Any] | None


@dataclass
class Step:
    """An assistant message carrying tool calls (and optionally a short text)."""

    calls: list[Call]
    text: str | None = None


def U(text: str) -> tuple[str, str]:
    return ("user", text)


def A(text: str) -> tuple[str, str]:
    return ("assistant", text)


def C(name: str, args: dict[str, Any] | str, result: dict[str, Any] | None,
      text: str | None = None) -> Step:
    return Step([Call(name, args, result)], text)


def addr(street: str, city: str, state: str, postcode: str, line2: str | None = None) -> dict:
    out = {"street": street}
    if line2:
        out["line2"] = line2
    out.update({"city": city, "state": state, "postcode": postcode})
    return out


def order(oid: str, status: str, items: list[tuple[str, int, float]],
          ship_to: dict[str, str], **extra: Any) -> dict[str, Any]:
    lines = [{"name": n, "qty": q, "unit_price": p} for n, q, p in items]
    total = round(sum(q * p for _, q, p in items) + extra.pop("shipping_fee", 0.0), 2)
    out = {"order_id": oid, "status": status, "items": lines,
           "total": total, "ship_to": ship_to}
    out.update(extra)
    return out


def refund_ok(rid: str, oid: str, amount: float) -> dict[str, Any]:
    return {"refund_id": rid, "order_id": oid, "amount": amount, "status": "issued"}


def address_ok(oid: str, address: dict[str, str]) -> dict[str, Any]:
    return {"order_id": oid, "updated": True, "ship_to": address}


PORTLAND_OLD = addr("918 NE Killingsworth St", "Portland", "OR", "97211")
PORTLAND_NEW = addr("2231 SE Ankeny St", "Portland", "OR", "97214", "Apt 4")
DENVER_TYPO = addr("1840 Gaylord St", "Denver", "CO", "80250")
DENVER_FIXED = addr("1840 Gaylord St", "Denver", "CO", "80205")
CHARLESTON_OLD = addr("41 Rutledge Ave", "Charleston", "SC", "29401")
CHARLESTON_NEW = addr("77 Harbor View Rd", "Charleston", "SC", "29412", "Unit 12B")
MADISON_NEW = addr("14 Alder Row", "Madison", "WI", "53703")


def checkout_console_log() -> str:
    """A browser console dump of a failing checkout, as a customer would paste it."""
    rng = random.Random(404)
    lines: list[str] = []
    endpoints = ["/api/cart", "/api/cart/validate", "/api/shipping/quote", "/api/promo/apply",
                 "/api/session/refresh", "/api/inventory/check", "/api/tax/estimate"]
    for i in range(64):
        stamp = f"19:{42 + i // 20:02d}:{(i * 7) % 60:02d}.{rng.randrange(1000):03d}"
        kind = i % 8
        rid = "".join(rng.choice("abcdef0123456789") for _ in range(12))
        if kind == 0:
            msg = (f"[checkout] POST {rng.choice(endpoints)} 200 ({rng.randrange(80, 900)} ms) "
                   f"req={rid}")
        elif kind == 1:
            msg = ("Refused to load the script 'https://js.paygate-cdn.example/v3/elements.js' "
                   "because it violates the following Content Security Policy directive: "
                   "\"script-src 'self' https://static.fernhill.example\".")
        elif kind == 2:
            column = rng.randrange(2000, 90000)
            msg = (f"Uncaught (in promise) TypeError: Cannot read properties of undefined "
                   f"(reading 'mount') at PaymentStep.render (checkout.{rid[:8]}.js:1:{column})")
        elif kind == 3:
            msg = (f"[analytics] event=checkout_step step=payment attempt={i // 8 + 1} "
                   f"session={rid}")
        elif kind == 4:
            thumb = rng.randrange(100, 999)
            msg = (f"GET https://static.fernhill.example/img/products/thumb_{thumb}.webp "
                   f"net::ERR_BLOCKED_BY_CLIENT")
        elif kind == 5:
            msg = (f"[checkout] retrying payment form init ({i // 8 + 1}/8) after "
                   f"{rng.choice([250, 500, 1000, 2000])} ms backoff")
        elif kind == 6:
            msg = (f"Warning: Each child in a list should have a unique \"key\" prop. Check the "
                   f"render method of `CartSummary`. req={rid}")
        else:
            msg = (f"[checkout] POST /api/payments/intent 409 ({rng.randrange(120, 700)} ms) "
                   f"{{\"error\":\"payment_form_not_ready\",\"trace\":\"{rid}\"}}")
        lines.append(f"{stamp} {msg}")
    return "\n".join(lines)


def agent_conversations() -> list[tuple[str, list[Any], list[dict[str, Any]]]]:
    """(key, turns, planted defects) for every conversation, in file order."""
    convs: list[tuple[str, list[Any], list[dict[str, Any]]]] = []

    def add(key: str, *turns: Any, defects: list[dict[str, Any]] | None = None) -> None:
        convs.append((key, list(turns), defects or []))

    add("status-shipped",
        U("Hi! Just wondering where my order is, ORD-482913. I ordered the walnut serving board "
          "last week."),
        C("lookup_order", {"order_id": "ORD-482913"},
          order("ORD-482913", "shipped", [("Walnut serving board", 1, 58.0)],
                PORTLAND_OLD, carrier="UPS", tracking_number="1Z4F82W10391827745",
                estimated_delivery="2024-05-16")),
        A("Good news: your walnut serving board has shipped with UPS and is on its way. You can "
          "follow it with tracking number 1Z4F82W10391827745, and the carrier expects to deliver "
          "it in the next couple of days."))

    add("status-processing",
        U("when will ORD-301557 ship? it still says processing"),
        C("lookup_order", {"order_id": "ORD-301557"},
          order("ORD-301557", "processing",
                [("Stoneware dinner plates, set of 4", 2, 64.0)],
                addr("3307 Rosedale Ave", "Dallas", "TX", "75205"))),
        A("Your two sets of stoneware dinner plates are still being packed at our warehouse. As "
          "soon as they're handed to the carrier you'll get an email with a tracking link."))

    add("address-before-ship",
        U("I need to change the delivery address on ORD-118204, I'm moving this weekend."),
        C("lookup_order", {"order_id": "ORD-118204"},
          order("ORD-118204", "processing",
                [("Linen duvet cover, queen", 1, 129.0), ("Linen pillowcases, pair", 1, 44.0)],
                PORTLAND_OLD)),
        A("No problem, that order hasn't shipped yet so I can still change it. What's the new "
          "street address, city and ZIP code?"),
        U("2231 SE Ankeny St, Apt 4, Portland 97214"),
        C("update_address", {"order_id": "ORD-118204", "address": PORTLAND_NEW},
          address_ok("ORD-118204", PORTLAND_NEW)),
        A("Done! ORD-118204 will now go to 2231 SE Ankeny St, Apt 4, Portland, OR 97214. Good "
          "luck with the move."))

    add("refund-damaged-mug",
        U("My mug arrived in pieces. Order ORD-640288. Really disappointed, it was meant to be a "
          "gift."),
        C("lookup_order", {"order_id": "ORD-640288"},
          order("ORD-640288", "delivered",
                [("Speckled stoneware mug", 1, 18.0), ("Linen napkins, set of 2", 1, 22.0)],
                addr("65 Orchard St", "Burlington", "VT", "05401"), carrier="USPS",
                delivered_on="2024-05-07")),
        A("I'm so sorry it arrived broken, especially when it was meant as a gift. I can refund "
          "the mug to your original payment method right away. Would you like me to go ahead?"),
        U("yes please"),
        C("issue_refund", {"order_id": "ORD-640288", "amount": 18.0, "reason": "damaged"},
          refund_ok("RF-22904", "ORD-640288", 18.0)),
        A("All done, the refund for the mug is on its way back to your card. There's no need to "
          "send the broken pieces back; please just wrap them up and recycle them safely."))

    add("plain-return-policy",
        U("What's your return policy? I bought a lamp and I'm not sure it goes with my living "
          "room."),
        A("You can return unused items in their original packaging within 30 days of delivery. "
          "Start the return from the Orders page in your account, print the prepaid label, and "
          "once the parcel reaches us we refund you to your original payment method. If you send "
          "me your order number I can check the lamp's order for you."))

    add("not-received-multi",
        U("hi my order number is 55321 and it says delivered but I have nothing"),
        A("Sorry about that! Our order numbers look like ORD- plus six digits. Could you check "
          "your confirmation email for the full number?"),
        U("oh sorry, ORD-055321"),
        C("lookup_order", {"order_id": "ORD-055321"},
          order("ORD-055321", "delivered",
                [("Jute doormat", 1, 39.0)],
                addr("1402 W Addison St", "Chicago", "IL", "60613"), carrier="USPS",
                delivery_note="Left at front door")),
        A("Thanks! USPS says it was left at your front door. Could a neighbour or your building's "
          "mail room have it? If it doesn't turn up, I'll sort out a refund."),
        U("checked with the neighbours and the front desk, nothing. can you just refund it?"),
        C("issue_refund", {"order_id": "ORD-055321", "amount": 39.0, "reason": "not_received"},
          refund_ok("RF-22911", "ORD-055321", 39.0)),
        A("I've refunded the doormat to your original payment method. Sorry it went missing!"))

    add("address-after-ship",
        U("Can you send ORD-227640 to my office instead? 500 Congress Ave, Austin 78701"),
        C("lookup_order", {"order_id": "ORD-227640"},
          order("ORD-227640", "shipped", [("Ceramic table lamp", 1, 96.0)],
                addr("2904 Hemphill Park", "Austin", "TX", "78705"), carrier="FedEx",
                tracking_number="FX771290834451")),
        A("I'm afraid ORD-227640 has already shipped with FedEx, so I can't change the address "
          "from here anymore. You can ask FedEx to hold it at a nearby location or redirect it "
          "to your office using tracking number FX771290834451 on their website."))

    add("wrong-item-throw",
        U("I ordered the sage green throw blanket and got a grey one. ORD-509162"),
        C("lookup_order", {"order_id": "ORD-509162"},
          order("ORD-509162", "delivered", [("Chunky knit throw, sage", 1, 79.0)],
                addr("88 Beacon St", "Somerville", "MA", "02143"), carrier="UPS",
                delivered_on="2024-05-06")),
        A("Sorry about the mix-up! Your order was for the sage throw, so the grey one was our "
          "packing mistake. I can refund the throw in full and you're welcome to keep the grey "
          "one. Would that work, or would you rather reorder the sage one?"),
        U("Refund is fine, I'll reorder it myself."),
        C("issue_refund", {"order_id": "ORD-509162", "amount": 79.0, "reason": "wrong_item"},
          refund_ok("RF-22917", "ORD-509162", 79.0)),
        A("Done, the refund for the throw is on its way to your card. Enjoy the grey one on us!"))

    add("changed-mind-return-received",
        U("I sent back the rattan mirror (ORD-774015), has the return arrived yet? I'd like my "
          "money back."),
        C("lookup_order", {"order_id": "ORD-774015"},
          order("ORD-774015", "delivered", [("Round rattan mirror", 1, 145.0)],
                addr("2710 Fairmount Ave", "San Diego", "CA", "92105"),
                returned={"status": "received", "condition": "unused"})),
        Step([Call("issue_refund",
                   {"order_id": "ORD-774015", "amount": 145.0, "reason": "changed_mind"},
                   refund_ok("RF-22920", "ORD-774015", 145.0))],
             "Your return reached us and passed inspection, so I'm issuing the refund now."),
        A("The refund for the rattan mirror has been issued to your original payment method. "
          "Your bank may take a few business days to show it."))

    add("plain-canada",
        U("Do you ship to Canada?"),
        A("Not at the moment, sorry. We only deliver within the United States for now."))

    add("partial-refund-plate",
        U("One of the four side plates in my order was chipped when it arrived. The other three "
          "are fine. ORD-420876"),
        C("lookup_order", {"order_id": "ORD-420876"},
          order("ORD-420876", "delivered", [("Hand-glazed side plate", 4, 14.5)],
                addr("512 Elm St", "Nashville", "TN", "37203"), delivered_on="2024-05-10")),
        Step([Call("issue_refund", {"order_id": "ORD-420876", "amount": 14.5,
                                    "reason": "damaged"},
                   refund_ok("RF-22931", "ORD-420876", 14.5))],
             "Sorry about that plate! I'll refund one side plate for you."),
        A("Refunded. You'll see the money for one side plate back on your card shortly, and "
          "there's no need to return the chipped one."))

    add("two-orders-parallel",
        U("I placed two orders, ORD-612004 and ORD-612377. Are they shipping together?"),
        Step([Call("lookup_order", {"order_id": "ORD-612004"},
                   order("ORD-612004", "shipped", [("Linen table runner", 1, 34.0)],
                         addr("19 Maple Ct", "Ann Arbor", "MI", "48104"), carrier="USPS",
                         tracking_number="UP93318840217")),
              Call("lookup_order", {"order_id": "ORD-612377"},
                   order("ORD-612377", "processing",
                         [("Brass candle holders, pair", 1, 48.0)],
                         addr("19 Maple Ct", "Ann Arbor", "MI", "48104")))]),
        A("They're travelling separately. ORD-612004, the table runner, has already shipped with "
          "USPS. ORD-612377, the candle holders, is still being packed, and you'll get its own "
          "tracking email once it leaves the warehouse."))

    add("late-express-fee",
        U("I paid extra for express shipping on ORD-845310 and it took over a week. Can I at "
          "least get the shipping fee back?"),
        C("lookup_order", {"order_id": "ORD-845310"},
          order("ORD-845310", "delivered", [("Cotton waffle bath towel", 2, 32.0)],
                addr("7 Lakeview Dr", "Minneapolis", "MN", "55408"), shipping_fee=19.0,
                shipping={"method": "express", "fee": 19.0}, delivered_late=True)),
        Step([Call("issue_refund", {"order_id": "ORD-845310", "amount": 19.0,
                                    "reason": "late_delivery"},
                   refund_ok("RF-22936", "ORD-845310", 19.0))],
             "You're right, that order arrived well outside the express window. I'll refund the "
             "express shipping fee."),
        A("The express shipping fee has been refunded to your card. Sorry for the long wait!"))

    add("order-not-found",
        U("Status of ORD-999102 please"),
        C("lookup_order", {"order_id": "ORD-999102"}, {"error": "order_not_found"}),
        A("I couldn't find an order with the number ORD-999102. Could you double-check it against "
          "your confirmation email? If you checked out as a guest, the number is in the email's "
          "subject line."))

    add("plain-linen-care",
        U("How should I wash the linen sheets I bought? Don't want to ruin them."),
        A("Machine wash them cool or lukewarm on a gentle cycle with a mild detergent, and skip "
          "bleach and fabric softener. Tumble dry on low or line dry, and take them out while "
          "they're still slightly damp to keep creases down. Linen gets softer with every wash, "
          "so they'll only get better."))

    add("planted-unknown-tool",
        U("I need to cancel ORD-736552, I ordered the wrong size rug by mistake."),
        C("lookup_order", {"order_id": "ORD-736552"},
          order("ORD-736552", "processing", [("Flatweave wool rug, 5x8", 1, 210.0)],
                addr("430 Pine St", "Seattle", "WA", "98101"))),
        C("cancel_order", {"order_id": "ORD-736552"},
          {"order_id": "ORD-736552", "status": "cancelled"}),
        A("Your order ORD-736552 has been cancelled before it shipped, so you won't be charged "
          "for the rug. You can place a new order for the right size whenever you're ready."),
        defects=[defect("output-schema-violation",
                        "tool call to 'cancel_order', a tool that is not defined",
                        "/messages/4/tool_calls/0/function/name")])

    add("zip-typo",
        U("I typed the wrong zip code on ORD-203318, it should be 80205 not 80250. Everything "
          "else is right."),
        C("lookup_order", {"order_id": "ORD-203318"},
          order("ORD-203318", "processing", [("Oak bookshelf, 5 tier", 1, 239.0)],
                DENVER_TYPO)),
        C("update_address", {"order_id": "ORD-203318", "address": DENVER_FIXED},
          address_ok("ORD-203318", DENVER_FIXED)),
        A("Fixed! ORD-203318 will now ship to ZIP code 80205. Thanks for catching it before it "
          "went out."))

    add("cancelled-payment",
        U("Why was my order ORD-431920 cancelled?? I didn't cancel anything."),
        C("lookup_order", {"order_id": "ORD-431920"},
          order("ORD-431920", "cancelled", [("Velvet cushion cover", 3, 28.0)],
                addr("2216 Pearl St", "Boulder", "CO", "80302"),
                cancel_reason="payment_authorization_failed", charged=False)),
        A("ORD-431920 was cancelled automatically because your bank declined the payment "
          "authorization, so nothing was charged. If you still want the cushion covers, placing "
          "the order again with another card, or after a quick check with your bank, should go "
          "through."))

    add("plain-gift-note",
        U("Can I add a gift note to an order I already placed? It's going straight to my sister."),
        A("I'm sorry, we can't add a printed note once an order has been placed. The good news is "
          "that our packing slips never show what was paid, so it's safe to ship straight to "
          "your sister. You could also send her a quick message that a parcel is on its way."))

    add("refund-refused-used",
        U("I want to return the bath mat from ORD-102447. I've used it for a while and it's just "
          "not as absorbent as I hoped."),
        C("lookup_order", {"order_id": "ORD-102447"},
          order("ORD-102447", "delivered", [("Cotton tufted bath mat", 1, 36.0)],
                addr("604 Mulberry Ln", "Raleigh", "NC", "27605"), delivered_on="2023-12-22",
                return_window_open=False)),
        A("I'm sorry the bath mat hasn't lived up to expectations. That order was delivered "
          "several months ago and the mat has been used, so it falls outside our return policy "
          "and I can't refund it. If it's shedding or coming apart rather than just "
          "underperforming, tell me more and I'll look at it as a quality issue."))

    add("address-line2",
        U("please update the address for ORD-560731 to 77 Harbor View Rd, Unit 12B, Charleston "
          "SC 29412"),
        C("lookup_order", {"order_id": "ORD-560731"},
          order("ORD-560731", "processing", [("Seagrass storage basket", 2, 42.0)],
                CHARLESTON_OLD)),
        C("update_address", {"order_id": "ORD-560731", "address": CHARLESTON_NEW},
          address_ok("ORD-560731", CHARLESTON_NEW)),
        A("Updated! ORD-560731 will ship to 77 Harbor View Rd, Unit 12B, Charleston, SC 29412."))

    add("planted-negative-amount",
        U("The candle I got in ORD-581204 has a big crack down the jar. Can I get a refund for "
          "it?"),
        C("lookup_order", {"order_id": "ORD-581204"},
          order("ORD-581204", "delivered",
                [("Cedar and fig candle", 1, 24.0), ("Matchbox set", 1, 8.0)],
                addr("1121 Sycamore St", "Cincinnati", "OH", "45202"))),
        C("issue_refund", {"order_id": "ORD-581204", "amount": -24.0, "reason": "damaged"},
          refund_ok("RF-22952", "ORD-581204", 24.0)),
        A("I'm sorry about the candle! I've refunded it to your original payment method. Please "
          "don't light a cracked jar; it's safest to recycle it."),
        defects=[defect("output-schema-violation",
                        "issue_refund amount is -24.0; the schema requires a number > 0",
                        "/messages/4/tool_calls/0/function/arguments")])

    add("out-for-delivery",
        U("Is my order coming today? ORD-462665. I need to know if I should stay home."),
        C("lookup_order", {"order_id": "ORD-462665"},
          order("ORD-462665", "out_for_delivery",
                [("Upholstered dining chair", 2, 165.0)],
                addr("9 Willow Bend", "Columbus", "OH", "43215"), carrier="FedEx",
                tracking_number="FX550918273640", signature_required=True)),
        A("Yes, it's out for delivery today. The chairs need a signature, so it's worth staying "
          "in if you can. If you miss the driver, they'll leave a card with redelivery options."))

    add("plain-showroom",
        U("do you guys have a shop i can visit to see the fabrics in person?"),
        A("We're online only, so there's no shop to visit. If you're unsure about a colour or "
          "texture, you can order free fabric swatches from any upholstered product page and "
          "they'll be posted to you separately."))

    add("cracked-frame-replacement",
        U("The glass on my picture frame cracked in shipping, ORD-688013. Can you send me another "
          "one?"),
        C("lookup_order", {"order_id": "ORD-688013"},
          order("ORD-688013", "delivered", [("Oak picture frame, 11x14", 1, 42.0)],
                addr("315 Bluff St", "Dubuque", "IA", "52001"))),
        A("I'm sorry the frame arrived cracked. I can't send replacements from this chat, but I "
          "can refund the frame in full right now so you can reorder it. Shall I do that?"),
        U("ok fine, refund it"),
        C("issue_refund", {"order_id": "ORD-688013", "amount": 42.0, "reason": "damaged"},
          refund_ok("RF-22958", "ORD-688013", 42.0)),
        A("Done, the refund for the frame is on its way to your card."))

    add("delivered-old-address",
        U("Tracking for ORD-150883 says delivered but I moved last month. Where did it go?"),
        C("lookup_order", {"order_id": "ORD-150883"},
          order("ORD-150883", "delivered", [("Enamel dutch oven", 1, 119.0)],
                addr("4517 Alameda St", "Albuquerque", "NM", "87104"), carrier="UPS",
                delivered_on="2024-05-09")),
        A("It looks like the order was shipped to 4517 Alameda St in Albuquerque, which must be "
          "your old address, and UPS delivered it there. Could you ask the new residents or your "
          "old building manager to hold it for you? If it can't be recovered, reply here and "
          "we'll work out next steps together."))

    add("changed-mind-explain-return",
        U("Hi, I'd like a refund for the floor cushion I bought, I changed my mind about the "
          "colour."),
        A("Of course. Could you share the order number? It starts with ORD- and is in your "
          "confirmation email."),
        U("ORD-827316"),
        C("lookup_order", {"order_id": "ORD-827316"},
          order("ORD-827316", "delivered", [("Round floor cushion, rust", 1, 68.0)],
                addr("38 Hawthorne Ave", "Salt Lake City", "UT", "84105"))),
        A("Thanks! The cushion qualifies for a return. Start it from the Orders page, print the "
          "prepaid label and drop the parcel off with the carrier. As soon as it reaches our "
          "warehouse we'll refund you to your original payment method."))

    add("planted-orphan-call",
        U("Has ORD-417093 shipped yet? I need it before my parents visit."),
        Step([Call("lookup_order", {"order_id": "ORD-417093"}, None)],
             "Let me check that for you."),
        A("Yes, ORD-417093 shipped yesterday with UPS and should reach you in plenty of time for "
          "the visit. You'll find the tracking link in your shipping confirmation email."),
        defects=[defect("schema-violation",
                        "tool call id has no matching tool result message",
                        "/messages/2/tool_calls/0/id")])

    add("duplicate-order-refund",
        U("I accidentally ordered the same lamp shade twice, ORD-290451 and ORD-290452. Please "
          "refund the second one, I only want one."),
        Step([Call("lookup_order", {"order_id": "ORD-290451"},
                   order("ORD-290451", "processing",
                         [("Pleated linen lamp shade", 1, 54.0)],
                         addr("77 Cedar St", "Providence", "RI", "02903"))),
              Call("lookup_order", {"order_id": "ORD-290452"},
                   order("ORD-290452", "processing",
                         [("Pleated linen lamp shade", 1, 54.0)],
                         addr("77 Cedar St", "Providence", "RI", "02903")))]),
        C("issue_refund", {"order_id": "ORD-290452", "amount": 54.0, "reason": "changed_mind"},
          refund_ok("RF-22966", "ORD-290452", 54.0),
          "Both orders are for the same lamp shade and neither has shipped, so I'm refunding "
          "ORD-290452 now."),
        A("Done. ORD-290452 is refunded in full, and ORD-290451 will ship as normal."))

    add("plain-candle-wax",
        U("Are your candles soy or paraffin? My partner gets headaches from paraffin."),
        A("All of our candles are poured from a soy and coconut wax blend with cotton wicks, and "
          "none of them contain paraffin. The unscented ones are the gentlest option if "
          "fragrance is also a trigger."))

    add("delayed",
        U("My order ORD-915528 was supposed to be here by now. What's going on?"),
        C("lookup_order", {"order_id": "ORD-915528"},
          order("ORD-915528", "delayed", [("Wool blend throw pillow", 2, 46.0)],
                addr("260 Peachtree Way", "Atlanta", "GA", "30303"), carrier="UPS",
                tracking_number="1Z9V07E20392851166", delay_reason="carrier backlog")),
        A("Sorry for the wait! The carrier has a backlog in your area and ORD-915528 is running "
          "behind, but it's still moving and hasn't been lost. If it hasn't arrived by the new "
          "estimate on your tracking page, message us and I'll make it right."))

    add("address-missing-zip",
        U("Can you change where ORD-664209 is going? New address is 1550 Grant Ave, San "
          "Francisco."),
        C("lookup_order", {"order_id": "ORD-664209"},
          order("ORD-664209", "processing", [("Bamboo bath caddy", 1, 49.0)],
                addr("88 Shotwell St", "San Francisco", "CA", "94103"))),
        A("Happy to, the order hasn't shipped yet. What's the ZIP code for 1550 Grant Ave?"),
        U("94133"),
        C("update_address", {"order_id": "ORD-664209",
                             "address": addr("1550 Grant Ave", "San Francisco", "CA", "94133")},
          address_ok("ORD-664209", addr("1550 Grant Ave", "San Francisco", "CA", "94133"))),
        A("All set, ORD-664209 will now go to 1550 Grant Ave, San Francisco, CA 94133."))

    add("planted-long-log",
        U("Checkout keeps failing when I try to pay, the card form never appears. I opened the "
          "browser console like your help page said, here's everything it printed:\n\n"
          + checkout_console_log()
          + "\n\nCan you tell what's wrong? I've tried three times now."),
        A("Thanks for sending the log, that helps a lot. The important lines are the ones saying "
          "the payment script was refused and the net::ERR_BLOCKED_BY_CLIENT errors: something "
          "in your browser, usually an ad or privacy blocker, is stopping our payment form from "
          "loading, so checkout keeps retrying. Please pause the blocker for our site or try a "
          "private window with extensions turned off, then go through checkout again. Your cart "
          "is saved, so you won't need to add the items again."),
        defects=[defect("exceeds-context",
                        "pasted console log makes the example longer than max_seq_len 1024 "
                        "(chars/4 estimate); the assistant answer would be truncated")])

    add("multi-issue-angry",
        U("This is the second time something from you arrives broken. ORD-508871, the vase is "
          "smashed AND the box was soaking wet. Fix it."),
        C("lookup_order", {"order_id": "ORD-508871"},
          order("ORD-508871", "delivered",
                [("Hand-blown glass vase", 1, 72.0), ("Dried pampas bundle", 1, 26.0)],
                addr("1901 Kirby Dr", "Houston", "TX", "77019"))),
        A("I'm really sorry, that's not the experience we want you to have, and twice is too "
          "many. Was the pampas bundle damaged by the water as well, or only the vase?"),
        U("pampas is fine, just the vase"),
        C("issue_refund", {"order_id": "ORD-508871", "amount": 72.0, "reason": "damaged"},
          refund_ok("RF-22974", "ORD-508871", 72.0)),
        A("I've refunded the vase in full to your card. I've also added a note about the wet box "
          "to your order so our warehouse team can check how your parcels are being packed."))

    add("plain-change-email",
        U("How do I change the email address on my Fernhill account?"),
        A("Sign in, open Account settings from the menu in the top right, and choose Edit next "
          "to your email address. We'll send a confirmation link to the new address, and the "
          "change takes effect once you click it."))

    add("plain-dishwasher",
        U("Can the stoneware bowls go in the dishwasher and microwave?"),
        A("Yes to both. Our stoneware is dishwasher and microwave safe. Avoid sudden temperature "
          "changes, like moving a bowl straight from the fridge into a hot oven, since that can "
          "crack the glaze."))

    add("status-spouse-order",
        U("My wife ordered something for our anniversary and asked me to check on it without "
          "spoiling it. ORD-746120. Just tell me if it's on the way, not what it is!"),
        C("lookup_order", {"order_id": "ORD-746120"},
          order("ORD-746120", "shipped", [("Engraved walnut keepsake box", 1, 88.0)],
                addr("14 Juniper Ct", "Boise", "ID", "83702"), carrier="USPS",
                tracking_number="UP87741029935")),
        A("Your secret is safe with me! It has shipped and is on its way to you, and it should "
          "arrive soon. I won't say a word about what's inside."))

    add("wrong-size-rug",
        U("Received a 4x6 rug but I ordered the 6x9, ORD-318864. The 4x6 is way too small for the "
          "room."),
        C("lookup_order", {"order_id": "ORD-318864"},
          order("ORD-318864", "delivered", [("Handwoven jute rug, 6x9", 1, 189.0)],
                addr("2600 Lyndale Ave S", "Minneapolis", "MN", "55408"))),
        Step([Call("issue_refund", {"order_id": "ORD-318864", "amount": 189.0,
                                    "reason": "wrong_item"},
                   refund_ok("RF-22981", "ORD-318864", 189.0))],
             "You ordered the 6x9, so we sent the wrong size. I'm refunding the rug in full now."),
        A("The refund is done. You'll receive an email with a prepaid label for the small rug; "
          "please send it back when it suits you."))

    add("refund-other-card",
        U("I got a refund approved last week but I cancelled that card. Can it go to my new card "
          "instead?"),
        A("Refunds can only go back to the original payment method, but you won't lose the "
          "money: when a card has been cancelled, the bank passes the refund on to your new card "
          "or to the account behind it. If it hasn't appeared after a couple of weeks, your bank "
          "can trace it for you."))

    add("tracking-stuck",
        U("ORD-452390 has said 'label created' for days. Did it actually ship?"),
        C("lookup_order", {"order_id": "ORD-452390"},
          order("ORD-452390", "shipped", [("Ceramic planter, large", 1, 62.0)],
                addr("75 Hillside Ave", "Asheville", "NC", "28801"), carrier="UPS",
                tracking_number="1Z3R68F40375512289", carrier_status="label_created")),
        A("Our system shows it left the warehouse, but UPS hasn't scanned it yet, which is why "
          "tracking is stuck on 'label created'. That usually sorts itself out within a day. If "
          "there's still no scan by tomorrow, reply here and I'll chase UPS for you."))

    add("planted-invalid-args",
        U("Please change the shipping address on ORD-330719 to 14 Alder Row, Madison WI 53703."),
        C("lookup_order", {"order_id": "ORD-330719"},
          order("ORD-330719", "processing", [("Linen apron", 2, 32.0)],
                addr("5 Observatory Dr", "Madison", "WI", "53706"))),
        C("update_address",
          "{'order_id': 'ORD-330719', 'address': {'street': '14 Alder Row', 'city': 'Madison', "
          "'state': 'WI', 'postcode': '53703'}}",
          address_ok("ORD-330719", MADISON_NEW)),
        A("Done! Your aprons will now ship to 14 Alder Row, Madison, WI 53703."),
        defects=[defect("output-schema-violation",
                        "update_address arguments are not valid JSON (Python dict syntax, single "
                        "quotes)", "/messages/4/tool_calls/0/function/arguments")])

    add("gift-address-recipient",
        U("I ordered a gift to my own address by mistake, ORD-902276. Can it go to my friend "
          "instead? 3120 N Clark St, Chicago IL 60657"),
        C("lookup_order", {"order_id": "ORD-902276"},
          order("ORD-902276", "processing", [("Herb planter trio", 1, 58.0)],
                addr("910 Elmwood Ave", "Evanston", "IL", "60202"))),
        C("update_address", {"order_id": "ORD-902276",
                             "address": addr("3120 N Clark St", "Chicago", "IL", "60657")},
          address_ok("ORD-902276", addr("3120 N Clark St", "Chicago", "IL", "60657"))),
        A("Done, ORD-902276 will now go to 3120 N Clark St, Chicago, IL 60657. I hope your friend "
          "loves the planters!"))

    add("one-parcel-missing",
        U("Only half of ORD-447518 showed up. I got the sheets but not the duvet insert."),
        C("lookup_order", {"order_id": "ORD-447518"},
          order("ORD-447518", "delivered",
                [("Percale sheet set, king", 1, 149.0),
                 ("Down alternative duvet insert", 1, 119.0)],
                addr("48 Frost Ln", "Concord", "NH", "03301"),
                parcels=[{"contents": "Percale sheet set, king", "status": "delivered"},
                         {"contents": "Down alternative duvet insert",
                          "status": "lost_in_transit"}])),
        A("I can see the order went out in two parcels, and the carrier has marked the one with "
          "the duvet insert as lost. I'm sorry! I can refund the insert right away. Would you "
          "like that?"),
        U("Yes please do"),
        C("issue_refund", {"order_id": "ORD-447518", "amount": 119.0, "reason": "not_received"},
          refund_ok("RF-22990", "ORD-447518", 119.0)),
        A("Done, the duvet insert has been refunded to your card. The sheets are yours to keep, "
          "of course."))

    add("plain-gift-cards",
        U("Do you sell gift cards?"),
        A("Yes, we offer digital gift cards that are emailed to the recipient, with an optional "
          "personal message. You'll find them under Gifts in the main menu, and they never "
          "expire."))

    add("planted-last-turn-user",
        U("where's ORD-264810"),
        C("lookup_order", {"order_id": "ORD-264810"},
          order("ORD-264810", "processing", [("Striped cotton tablecloth", 1, 52.0)],
                addr("221 Main St", "Burlington", "VT", "05401"))),
        A("ORD-264810 is still being packed at our warehouse. You'll get an email with tracking "
          "as soon as it ships."),
        U("Great, thanks. Actually could you change the delivery address to my work? 12 Pine "
          "Street, Burlington VT 05401"),
        defects=[defect("missing-assistant-turn",
                        "conversation ends on a user turn; the last request is never answered")])

    add("plain-basket-size",
        U("How big is the large woven basket? I want it to fit under my bench."),
        A("The large woven basket is 18 inches wide, 14 inches deep and 12 inches tall. If your "
          "bench has less clearance than that, the medium one is a couple of inches lower."))

    add("add-item-to-order",
        U("Can I add a second pillowcase to ORD-559013 before it ships?"),
        C("lookup_order", {"order_id": "ORD-559013"},
          order("ORD-559013", "processing", [("Silk pillowcase, ivory", 1, 69.0)],
                addr("3401 Lake Shore Blvd", "Oakland", "CA", "94610"))),
        A("I can't add items to an order that's already been placed, sorry. ORD-559013 hasn't "
          "shipped yet, so if you place a second order now it will very likely leave the "
          "warehouse at about the same time."))

    add("refund-before-ship",
        U("Changed my mind on the bar stools, ORD-704338. They haven't shipped yet right? Can I "
          "get my money back?"),
        C("lookup_order", {"order_id": "ORD-704338"},
          order("ORD-704338", "processing", [("Rattan bar stool", 2, 135.0)],
                addr("812 Congress St", "Portland", "ME", "04101"))),
        A("You're right, they haven't shipped yet. Would you like me to refund the whole order?"),
        U("Yes please"),
        C("issue_refund", {"order_id": "ORD-704338", "amount": 270.0, "reason": "changed_mind"},
          refund_ok("RF-23003", "ORD-704338", 270.0)),
        A("Done, ORD-704338 is refunded in full and won't be shipped. Thanks for letting us know "
          "before it went out!"))

    add("planted-ai-boilerplate",
        U("Does the oak bench come fully assembled or do I need tools?"),
        A("As an AI language model, I cannot see or handle physical products, so I cannot tell "
          "you whether the bench arrives assembled. Please check the product page or contact "
          "the manufacturer for this information."),
        defects=[defect("refusal-boilerplate",
                        "'As an AI language model, I cannot...' where a plain product answer was "
                        "expected", "/messages/2/content")])

    add("address-not-serviceable",
        U("Please send ORD-841175 to my PO box instead: PO Box 2214, Missoula MT 59806"),
        C("lookup_order", {"order_id": "ORD-841175"},
          order("ORD-841175", "processing", [("Cast iron skillet, 12 inch", 1, 74.0)],
                addr("2330 S Higgins Ave", "Missoula", "MT", "59801"))),
        C("update_address", {"order_id": "ORD-841175",
                             "address": addr("PO Box 2214", "Missoula", "MT", "59806")},
          {"order_id": "ORD-841175", "updated": False, "error": "po_box_not_supported"}),
        A("I tried, but our carrier can't deliver this order to a PO box, so the address is "
          "unchanged. If there's a street address where someone can receive it, send it over "
          "and I'll update the order."))

    add("typo-status",
        U("wheres my stuff ORD-730219 its been forever"),
        C("lookup_order", {"order_id": "ORD-730219"},
          order("ORD-730219", "shipped",
                [("Glass storage jars, set of 3", 1, 38.0), ("Wooden spoon set", 1, 24.0)],
                addr("1700 Broadway", "Nashville", "TN", "37203"), carrier="USPS",
                tracking_number="UP90276611843")),
        A("Sorry it feels slow! ORD-730219 is with USPS and moving. You can follow it with "
          "tracking number UP90276611843, and it should be with you soon."))

    add("plain-card-invalid",
        U("your checkout page keeps saying my card number is invalid but it works everywhere "
          "else"),
        A("Sorry about that! The most common causes are a billing ZIP code that doesn't match the "
          "one your bank has on file, or a browser that autofilled an old card. Try typing the "
          "card details and ZIP in by hand. If it still fails, your bank may be blocking the "
          "payment, and a quick call to them usually clears it."))

    add("planted-volatile-facts",
        U("Is the extended protection plan worth it for the sofa? How much does it cost?"),
        A("Our two-year protection plan costs $49.99 as of March 2024 and covers accidental "
          "stains, spills and frame damage on the sofa. Many customers with pets or small "
          "children find it worthwhile."),
        defects=[defect("volatile-facts",
                        "answer quotes a price and a date ('costs $49.99 as of March 2024')",
                        "/messages/2/content")])

    add("plain-swatches",
        U("Can I get a fabric sample before ordering the armchair?"),
        A("Yes, and swatches are free. Open the armchair's product page, pick the fabrics you "
          "like under Order swatches, and we'll post them to you. They usually arrive well "
          "before you'd need to decide."))

    add("confirm-contents",
        U("Can you tell me exactly what was in ORD-183407? I'm doing my expenses and lost the "
          "email."),
        C("lookup_order", {"order_id": "ORD-183407"},
          order("ORD-183407", "delivered",
                [("Desk organiser, oak", 1, 46.0), ("Linen-covered notebook", 3, 16.0)],
                addr("600 Congress Ave", "Austin", "TX", "78701"))),
        A("ORD-183407 contained one oak desk organiser and three linen-covered notebooks. For "
          "your expenses, you can download a full receipt from the Orders page in your account."))

    add("thanks-followup",
        U("Is ORD-620948 delivered? My neighbour said she saw a box."),
        C("lookup_order", {"order_id": "ORD-620948"},
          order("ORD-620948", "delivered", [("Woven cotton hammock", 1, 98.0)],
                addr("47 Ocean View Rd", "Portland", "ME", "04103"), carrier="UPS",
                delivered_on="2024-05-15", delivery_note="Left at side door")),
        A("Yes, UPS delivered it and left it at your side door. That's probably the box your "
          "neighbour saw."),
        U("found it, thank you!"),
        A("Wonderful, enjoy the hammock!"))

    add("damaged-needs-choice",
        U("Two of the wine glasses in ORD-265187 arrived broken."),
        C("lookup_order", {"order_id": "ORD-265187"},
          order("ORD-265187", "delivered", [("Stemless wine glass", 6, 12.0)],
                addr("3300 W Colfax Ave", "Denver", "CO", "80204"))),
        Step([Call("issue_refund", {"order_id": "ORD-265187", "amount": 24.0,
                                    "reason": "damaged"},
                   refund_ok("RF-23011", "ORD-265187", 24.0))],
             "Sorry about the glasses! I'm refunding the two broken ones now."),
        A("The two broken glasses have been refunded to your card. Please take care when you "
          "throw the pieces away."))

    add("plain-warranty-furniture",
        U("The leg on my coffee table wobbles. It's a year old, is that covered?"),
        A("Furniture comes with a warranty against manufacturing defects, and a leg that has "
          "worked loose often just needs the bolt tightened. Try the hex key that came in the "
          "box first. If it still wobbles, send me your order number and a description of "
          "where it's loose, and I'll check whether it's covered."))

    add("address-same-state",
        U("Hi, could ORD-489630 go to 1205 Lincoln Way, Ames IA 50010 instead of my parents' "
          "place? I'll be back at college by then."),
        C("lookup_order", {"order_id": "ORD-489630"},
          order("ORD-489630", "processing", [("Desk lamp, brass", 1, 64.0)],
                addr("801 Grand Ave", "Des Moines", "IA", "50309"))),
        C("update_address", {"order_id": "ORD-489630",
                             "address": addr("1205 Lincoln Way", "Ames", "IA", "50010")},
          address_ok("ORD-489630", addr("1205 Lincoln Way", "Ames", "IA", "50010"))),
        A("No problem! ORD-489630 will now ship to 1205 Lincoln Way, Ames, IA 50010. Good luck "
          "with the semester."))

    add("plain-order-id-help",
        U("I can't find my order number anywhere"),
        A("It's in your order confirmation email and starts with ORD- followed by six digits. If "
          "you have an account, it's also listed on the Orders page. If you checked out as a "
          "guest and can't find the email, try searching your inbox for Fernhill."))

    add("late-refund-declined",
        U("My order ORD-536672 came a day late. I want a refund."),
        C("lookup_order", {"order_id": "ORD-536672"},
          order("ORD-536672", "delivered", [("Bamboo cutting board", 1, 32.0)],
                addr("118 River Rd", "Richmond", "VA", "23220"),
                shipping={"method": "standard", "fee": 0.0}, delivered_late=False)),
        A("Sorry it took a little longer than you hoped. That order went by standard shipping, "
          "which has no guaranteed delivery day, and it arrived within the normal window, so "
          "there's no shipping charge to refund. If anything is wrong with the cutting board "
          "itself, let me know and I'll help."))

    return convs


def call_id(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits
    return "call_" + "".join(rng.choice(alphabet) for _ in range(24))


def render_conversation(turns: list[Any], rng: random.Random) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": AGENT_SYSTEM_PROMPT}]
    for turn in turns:
        if isinstance(turn, Step):
            message: dict[str, Any] = {"role": "assistant"}
            if turn.text is not None:
                message["content"] = turn.text
            calls, results = [], []
            for call in turn.calls:
                cid = call_id(rng)
                args = call.args if isinstance(call.args, str) else json.dumps(call.args)
                calls.append({"id": cid, "type": "function",
                              "function": {"name": call.name, "arguments": args}})
                if call.result is not None:
                    # Tool results are compact JSON, as an API handler would return them.
                    results.append({"role": "tool", "tool_call_id": cid,
                                    "content": json.dumps(call.result, separators=(",", ":"))})
            message["tool_calls"] = calls
            messages.append(message)
            messages.extend(results)
        else:
            role, text = turn
            messages.append({"role": role, "content": text})
    return {"messages": messages, "tools": TOOLS}


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def manifest_entries(rel: str, rows: list[Row], lines_by_key: dict[str, tuple[str, int]]
                     ) -> list[dict[str, Any]]:
    entries = []
    for number, row in enumerate(rows, start=1):
        for d in row.defects:
            entry: dict[str, Any] = {"file": rel, "line": number, "check": d["check"],
                                     "what": d["what"]}
            if "pointer" in d:
                entry["pointer"] = d["pointer"]
            if "related_key" in d:
                rfile, rline = lines_by_key[d["related_key"]]
                entry["related"] = [{"file": rfile, "line": rline}]
            entries.append(entry)
    return entries


def main() -> None:
    train = build_support_train()
    test = build_support_test(train)
    train_rel = "support_tickets/train.jsonl"
    test_rel = "support_tickets/test.jsonl"
    lines_by_key = {r.key: (train_rel, i) for i, r in enumerate(train, start=1)}

    write_lines(HERE / train_rel, [r.text for r in train])
    write_lines(HERE / test_rel, [r.text for r in test])
    write_lines(HERE / "support_tickets/production_sample.jsonl",
                [dump({"text": f"Ticket: {t}"}) for t in PRODUCTION_TICKETS])
    (HERE / "support_tickets/deployment.toml").write_text(SUPPORT_DEPLOYMENT, encoding="utf-8")

    rng = random.Random(2718)
    agent_rows = [
        Row(key, dump(render_conversation(turns, rng)), defects)
        for key, turns, defects in agent_conversations()
    ]
    agent_rel = "agent_chat/train.jsonl"
    write_lines(HERE / agent_rel, [r.text for r in agent_rows])
    (HERE / "agent_chat/tools.json").write_text(json.dumps(TOOLS, indent=2) + "\n",
                                                encoding="utf-8")
    (HERE / "agent_chat/deployment.toml").write_text(AGENT_DEPLOYMENT, encoding="utf-8")

    manifest = (manifest_entries(train_rel, train, lines_by_key)
                + manifest_entries(test_rel, test, lines_by_key)
                + manifest_entries(agent_rel, agent_rows, {}))
    manifest.append({
        "file": "support_tickets/production_sample.jsonl", "line": None,
        "check": "reference-drift",
        "what": "production sample holds data-protection requests (GDPR access, erasure, export, "
                "DPA) that training lacks, and Spanish tickets where training is all English",
    })
    (HERE / "defects.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")


if __name__ == "__main__":
    main()
