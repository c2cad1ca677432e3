"""pymesos (a v1 HTTP scheduler nobody here wrote) runs a task group.

Usage: pymesos_task_group.py HOST:PORT

Subscribes over /api/v1/scheduler and accepts the first offer with one
LAUNCH_GROUP operation: the default executor (`type: DEFAULT`) and two
command tasks, `a` and `b`. Prints `UPDATE <task> <state> <message>` for
each update (pymesos acknowledges them), and exits 0 once both tasks are
TASK_FINISHED (1 on any other terminal state, an error, or a timeout).
"""

import sys
import threading
import uuid

from pymesos import MesosSchedulerDriver, Scheduler

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR",
            "TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"}


def resources(cpus, mem, disk=None):
    result = [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
    ]
    if disk is not None:
        result.append({"name": "disk", "type": "SCALAR", "scalar": {"value": disk}})
    return result


class Oracle(Scheduler):
    def __init__(self):
        self.launched = False
        self.states = {}
        self.ok = False

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id)
                continue
            self.launched = True
            suffix = str(uuid.uuid4())[:8]
            tasks = [
                {
                    "task_id": {"value": name},
                    "agent_id": {"value": offer.agent_id.value},
                    "name": name,
                    "command": {"value": command},
                    "resources": resources(0.1, 32),
                }
                for name, command in [
                    ("a", "echo from-a; sleep 0.3"),
                    ("b", "echo from-b"),
                ]
            ]
            executor = {
                "type": "DEFAULT",
                "executor_id": {"value": "default-" + suffix},
                "framework_id": {"value": driver.framework_id},
                # Upstream refuses a task group whose executor has no disk.
                "resources": resources(0.1, 32, 10),
            }
            driver.acceptOffers([offer.id], [{
                "type": "LAUNCH_GROUP",
                "launch_group": {
                    "executor": executor,
                    "task_group": {"tasks": tasks},
                },
            }])
            print("LAUNCHED", offer.id.value, flush=True)

    def statusUpdate(self, driver, update):
        task, state = update.task_id.value, update.state
        print("UPDATE", task, state, update.get("message", ""), flush=True)
        self.states[task] = state
        if state in TERMINAL and state != "TASK_FINISHED":
            driver.stop()
        elif len(self.states) == 2 and all(
                s == "TASK_FINISHED" for s in self.states.values()):
            self.ok = True
            driver.stop()

    def error(self, driver, message):
        print("ERROR", message, flush=True)
        driver.stop()


def main():
    scheduler = Oracle()
    framework = {"user": "root", "name": "pymesos-task-group-oracle",
                 "failover_timeout": 0.0}
    driver = MesosSchedulerDriver(scheduler, framework, sys.argv[1], use_addict=True)
    timer = threading.Timer(60.0, driver.stop)
    timer.start()
    driver.run()
    timer.cancel()
    sys.exit(0 if scheduler.ok else 1)


if __name__ == "__main__":
    main()
