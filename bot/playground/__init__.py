"""``vpnbot playground``: the bot as ``vpnbot serve`` runs it, the simulator, and a local page that plays Slack.

``slack_api`` is the Slack Web API stand-in (shared with the tests), ``slack_payloads`` builds the requests Slack
sends to an app, and the page's server turns what a person does on the page into those requests.
"""
