"""pymesos (a v1 HTTP scheduler nobody here wrote) reserves resources with
operation feedback.

Usage: pymesos_operations.py HOST:PORT

Subscribes over /api/v1/scheduler as a MULTI_ROLE framework of role `web`
with principal `ops`, accepts the first offer with a RESERVE of `cpus:1`
for `web` whose operation id is `op1`, and prints
`OPERATION <state> <operation id> <reliable|unreliable> <agent id>` for
each UPDATE_OPERATION_STATUS event. On the first
OPERATION_FINISHED it asks RECONCILE_OPERATIONS for `op1` on that agent
and for `nope` on no agent, then acknowledges the update; it exits 0 once both answers came (1 on an
error or a timeout).
"""

import sys
import threading

from pymesos import MesosSchedulerDriver, Scheduler


class Oracle(Scheduler):
    def __init__(self):
        self.accepted = False
        self.answers = 0
        self.ok = False

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.accepted:
                driver.declineOffer(offer.id)
                continue
            self.accepted = True
            reserve = {
                "type": "RESERVE",
                "id": {"value": "op1"},
                "reserve": {
                    "resources": [{
                        "name": "cpus",
                        "type": "SCALAR",
                        "scalar": {"value": 1},
                        "reservations": [{
                            "type": "DYNAMIC",
                            "role": "web",
                            "principal": "ops",
                        }],
                    }],
                },
            }
            driver.acceptOffers([offer.id], [reserve])
            print("ACCEPTED", offer.id.value, flush=True)

    def operationStatusUpdate(self, driver, status):
        reliable = "reliable" if "uuid" in status else "unreliable"
        agent = status.get("agent_id", {}).get("value", "-")
        print("OPERATION", status.state, status.operation_id.value, reliable,
              agent, flush=True)
        if reliable == "reliable" and status.state == "OPERATION_FINISHED":
            driver.reconcileOperations([
                {"operation_id": {"value": "op1"},
                 "agent_id": {"value": agent}},
                {"operation_id": {"value": "nope"}},
            ])
            # pymesos's implicit acknowledgement sends the whole status as
            # the call, whose `uuid` is then a UUID message where the call
            # wants bytes: upstream's parser refuses it, and so does ours.
            # The same pymesos method with the call's own fields works.
            driver.acknowledgeOperationStatusUpdate({
                "agent_id": status.agent_id,
                "uuid": status.uuid.value,
                "operation_id": status.operation_id,
            })
        elif reliable == "unreliable":
            self.answers += 1
            if self.answers == 2:
                self.ok = True
                driver.stop()

    def error(self, driver, message):
        print("ERROR", message, flush=True)
        driver.stop()


def main():
    framework = {
        "user": "root",
        "name": "pymesos-operations",
        "roles": ["web"],
        "principal": "ops",
        "capabilities": [{"type": "MULTI_ROLE"}],
        "failover_timeout": 0,
    }
    oracle = Oracle()
    driver = MesosSchedulerDriver(oracle, framework, sys.argv[1], use_addict=True,
                                  implicit_acknowledgements=False)
    timer = threading.Timer(30, driver.stop)
    timer.start()
    driver.run()
    timer.cancel()
    sys.exit(0 if oracle.ok else 1)


if __name__ == "__main__":
    main()
