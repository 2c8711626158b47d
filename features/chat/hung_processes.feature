@chat @allure.label.epic:Multi-server_chat @allure.label.story:Hung_processes
Feature: The chat cluster rides out a process that hangs
  As the operator of a chat service
  I want the cluster to route around a server that hangs and to carry on while etcd hangs
  So that one stalled machine neither takes a room down for long nor splits it in two

  A hung process is frozen in place, as a stalled host is: its connections stay open, but it
  answers nothing. A hung server stops renewing its 15-second lease, so its registration expires
  and its rooms move to a surviving server; when it wakes up it registers again under a new lease
  and drops the rooms it no longer owns. Servers and gates route from the shard map they hold,
  so rooms keep answering while etcd hangs.

  Scenario: A room moves to a survivor while its server hangs, and the server rejoins on waking
    Given a chat cluster with 2 servers and 1 gate
    And "alice" is connected to gate 1
    And "alice" has joined "General"
    When the server holding "General" hangs
    Then "alice" can join "General" again within 45 seconds
    And "General" is now served by another server
    When the hung server wakes up
    Then every server and gate is registered with the cluster within 20 seconds
    When "alice" says "Still here" in "General"
    Then "alice" receives "Still here" from "alice" within 5 seconds
    And "General" is held by exactly one server within 20 seconds

  @use.with_etcd_control=true
  Scenario: Rooms keep answering while etcd hangs, and the cluster carries on when it wakes up
    Given a chat cluster with 2 servers and 1 gate
    And "alice" is connected to gate 1
    And "alice" has joined "Sports"
    When etcd hangs
    Then "alice" keeps chatting in "Sports" for 6 seconds
    When etcd wakes up
    Then every server and gate is registered with the cluster within 10 seconds
    And the cluster still has its 6 chat objects
    When "alice" says "After the hang" in "Sports"
    Then "alice" receives "After the hang" from "alice" within 5 seconds
