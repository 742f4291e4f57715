"""The official Centrifugo server client `cent`, unchanged, against a real Solo:
every server API method, with a centrifuge-python subscriber that receives what
`cent` publishes, is subscribed and unsubscribed by it, and is disconnected."""

import asyncio
import time
import unittest

from cent import (
    AsyncClient,
    BatchRequest,
    BroadcastRequest,
    ChannelsRequest,
    Disconnect,
    DisconnectRequest,
    HistoryRemoveRequest,
    HistoryRequest,
    InfoRequest,
    PresenceRequest,
    PresenceStatsRequest,
    PublishRequest,
    RefreshRequest,
    SubscribeRequest,
    UnsubscribeRequest,
)
from cent.exceptions import CentApiResponseError, CentUnauthorizedError
from centrifuge import Client, ClientEventHandler

from test_recovery import Recorder, Solo, wait_for

KEY = "py-server-api-key-0123456789"


class ServerSide(ClientEventHandler):
    """What the client hears about subscriptions the server made, and its end."""

    def __init__(self):
        self.subscribed = []
        self.publications = []
        self.disconnected = []

    async def on_subscribed(self, ctx):
        self.subscribed.append(ctx)

    async def on_publication(self, ctx):
        self.publications.append(ctx)

    async def on_disconnected(self, ctx):
        self.disconnected.append(ctx)


class CentTest(unittest.IsolatedAsyncioTestCase):
    async def test_every_method_with_a_live_subscriber(self):
        solo = Solo({"SOLO_SERVER_API_KEY": KEY})
        client = None
        api = AsyncClient(f"http://{solo.addr}/centrifugo/api", KEY)
        try:
            me = await asyncio.get_event_loop().run_in_executor(None, solo.call, "GET", "/api/me")
            user, workspace = me["id"], me["workspaces"][0]["id"]
            mine, board = f"notifications:{user}", f"workspace:{workspace}"

            events = ServerSide()
            client = Client(solo.ws_url, get_token=solo.token, events=events)
            recorder = Recorder()
            sub = client.new_subscription(mine, events=recorder)
            await client.connect()
            await sub.subscribe()
            await wait_for("subscribed", lambda: recorder.subscribed)

            # publish: committed with an offset, fanned out to the subscriber.
            published = await api.publish(PublishRequest(channel=mine, data={"text": "hello"}, tags={"k": "v"}))
            self.assertEqual(published.offset, 1)
            self.assertTrue(published.epoch)
            await wait_for("the publication", lambda: recorder.publications)
            envelope = recorder.publications[0].data
            self.assertEqual(envelope["type"], "server.published")
            self.assertEqual(envelope["data"]["data"], {"text": "hello"})
            self.assertEqual(recorder.publications[0].offset, 1)

            # broadcast: every channel in its place, an unknown one refused alone.
            broadcast = await api.broadcast(BroadcastRequest(channels=[mine, "chat:lobby"], data=[1, 2]))
            self.assertEqual(broadcast.responses[0].result.offset, 2)
            self.assertEqual(broadcast.responses[1].error.code, 102)
            await wait_for("the broadcast", lambda: len(recorder.publications) == 2)

            # presence, presence_stats, channels, info: the subscriber is seen.
            presence = await api.presence(PresenceRequest(channel=mine))
            self.assertEqual([c.user for c in presence.presence.values()], [user])
            stats = await api.presence_stats(PresenceStatsRequest(channel=mine))
            self.assertEqual((stats.num_clients, stats.num_users), (1, 1))
            channels = await api.channels(ChannelsRequest(pattern="notifications:*"))
            self.assertEqual(channels.channels[mine].num_clients, 1)
            info = await api.info(InfoRequest())
            self.assertEqual(info.nodes[0].num_clients, 1)

            # history, newest first too.
            history = await api.history(HistoryRequest(channel=mine, limit=10))
            self.assertEqual([p.offset for p in history.publications], [1, 2])
            self.assertEqual(history.epoch, published.epoch)
            newest = await api.history(HistoryRequest(channel=mine, limit=1, reverse=True))
            self.assertEqual(newest.publications[0].data["data"]["data"], [1, 2])

            # subscribe: a server-side subscription the client announces, then publications on it.
            await api.subscribe(SubscribeRequest(user=user, channel=board))
            await wait_for("the server-side subscription", lambda: events.subscribed)
            self.assertEqual(events.subscribed[0].channel, board)
            await api.publish(PublishRequest(channel=board, data={"to": "board"}))
            await wait_for("a publication of the server-side subscription", lambda: events.publications)
            self.assertEqual(events.publications[0].pub.data["data"]["data"], {"to": "board"})

            # unsubscribe: the client's subscription ends.
            await api.unsubscribe(UnsubscribeRequest(user=user, channel=mine))
            await wait_for("unsubscribed", lambda: recorder.unsubscribed)
            stats = await api.presence_stats(PresenceStatsRequest(channel=mine))
            self.assertEqual(stats.num_clients, 0)

            # refresh, history_remove, batch.
            await api.refresh(RefreshRequest(user=user, expire_at=int(time.time()) + 3600))
            await api.history_remove(HistoryRemoveRequest(channel=mine))
            emptied = await api.history(HistoryRequest(channel=mine, limit=10))
            self.assertEqual((emptied.publications, emptied.offset), ([], 2))
            batch = await api.batch(
                BatchRequest(
                    requests=[
                        PublishRequest(channel=mine, data="after"),
                        PresenceStatsRequest(channel=board),
                    ]
                )
            )
            self.assertEqual(batch.replies[0].offset, 3)
            self.assertEqual(batch.replies[1].num_clients, 1)

            # Errors in Centrifugo's numbers; a wrong key is refused.
            with self.assertRaises(CentApiResponseError) as refused:
                await api.publish(PublishRequest(channel="chat:lobby", data={}))
            self.assertEqual(refused.exception.code, 102)
            intruder = AsyncClient(f"http://{solo.addr}/centrifugo/api", KEY + "x")
            try:
                with self.assertRaises(CentUnauthorizedError):
                    await intruder.info(InfoRequest())
            finally:
                await intruder.close()

            # disconnect: the subscriber is closed for good (3503, no reconnect).
            await api.disconnect(DisconnectRequest(user=user, disconnect=Disconnect(code=3503, reason="bye")))
            await wait_for("disconnected", lambda: events.disconnected)
            self.assertEqual(events.disconnected[0].code, 3503)
            stats = await api.presence_stats(PresenceStatsRequest(channel=board))
            self.assertEqual(stats.num_clients, 0)
        finally:
            await api.close()
            if client is not None:
                await client.disconnect()
            solo.stop()


if __name__ == "__main__":
    unittest.main()
