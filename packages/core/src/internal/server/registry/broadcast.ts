/**
 * What changes on the server reaches the sessions here: a list change every initialized session, once per
 * change; a resource update only its subscribers; a task's status the sessions of its owner whose revision pushes
 * it.
 * @internal
 */
import * as HashMap from "effect/HashMap"
import { isSameParty } from "../../../McpAuth.js"
import type { ServerLink } from "../links.js"
import type { Audience, Subscriptions } from "../session.js"
import type { Change, PlacementService } from "./placement.js"
import type { SessionTable } from "./table.js"

/**
 * Attaches the registry's sessions to the server's changes; returns what detaches them. With a placement, a
 * resource updated or a list changed here is also told to the other instances, whose sessions hear it as well.
 * @internal
 */
export const attachSessions = (
  link: ServerLink,
  table: SessionTable,
  subscriptions: Subscriptions,
  placement: PlacementService | undefined
): () => void => {
  const local = audienceOf(table, subscriptions)
  if (placement === undefined) return link.attach(local)
  return link.attach({
    ...local,
    listChanged: (notification) => {
      local.listChanged(notification)
      placement.publish({ _tag: "ListChanged", notification })
    },
    resourceUpdated: (uri, notification) => {
      local.resourceUpdated(uri, notification)
      placement.publish({ _tag: "ResourceUpdated", uri, notification })
    }
  })
}

/** What a change told by another instance does here: the same as one made here, told to no one else. @internal */
export const deliverTo = (table: SessionTable, subscriptions: Subscriptions) => {
  const local = audienceOf(table, subscriptions)
  return (change: Change): void =>
    change._tag === "ResourceUpdated"
      ? local.resourceUpdated(change.uri, change.notification)
      : local.listChanged(change.notification)
}

const audienceOf = (table: SessionTable, subscriptions: Subscriptions): Audience => ({
    sessions: () => HashMap.values(table.current),
    listChanged: (notification) => {
      for (const session of HashMap.values(table.current)) {
        if (session.phase === "initialized") session.send(notification)
      }
    },
    resourceUpdated: (uri, notification) => {
      const subscribers = subscriptions.of(uri)
      if (subscribers === undefined) return
      for (const session of subscribers) session.send(notification)
    },
    // Only sessions of the same party; at 2026-07-28 their writers (listen streams) pass the task ids asked for.
    taskStatus: (owner, notification) => {
      for (const session of HashMap.values(table.current)) {
        if (!session.revision.pushesTaskStatus) continue
        const principal = session.principal
        const same = owner === undefined || principal === undefined
          ? owner === principal
          : isSameParty(owner, principal)
        if (same) session.send(notification)
      }
    }
  })
