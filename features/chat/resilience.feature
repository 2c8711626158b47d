@chat @allure.label.epic:Multi-server_chat @allure.label.story:Cluster_resilience
Feature: The chat cluster survives failures and stops cleanly
  As the operator of a chat service
  I want the cluster to recover from a lost server or a restarted etcd, let me move rooms between
  servers, and stop cleanly
  So that outages stay short and maintenance is safe

  A server that crashes keeps its registration until its 15-second lease expires; its rooms then
  move to a surviving server and come back empty.

  Scenario: A room comes back on a survivor when its server is killed
    Given a chat cluster with 2 servers and 1 gate
    And "alice" is connected to gate 1
    And "alice" has joined "General"
    When the server holding "General" is killed
    Then "alice" can join "General" again within 45 seconds
    And "General" is now served by another server
    When "alice" says "Still here" in "General"
    Then "alice" receives "Still here" from "alice" within 5 seconds

  Scenario: An operator moves a room to the other server
    Given a chat cluster with 2 servers, 1 gate and an inspector
    And "alice" is connected to gate 1
    And "alice" has joined "Movies"
    When the operator moves "Movies" to the other server through the inspector
    Then "alice" can join "Movies" again within 15 seconds
    And "Movies" is now served by another server
    When "alice" says "Still showing" in "Movies"
    Then "alice" receives "Still showing" from "alice" within 5 seconds

  @critical
  Scenario: Every process stops cleanly
    Given a chat cluster with 2 servers and 2 gates
    And "alice" is connected to gate 1
    When every process of the cluster is stopped
    Then every process exited cleanly

  @use.with_etcd_control=true
  Scenario: The cluster keeps working across an etcd restart
    Given a chat cluster with 2 servers and 1 gate
    And "alice" is connected to gate 1
    And "alice" has joined "Sports"
    When etcd restarts
    Then the cluster still has its 6 chat objects
    When "alice" says "After the restart" in "Sports"
    Then "alice" receives "After the restart" from "alice" within 10 seconds

  Scenario: The inspector shows the cluster's servers, gates and objects
    Given a chat cluster with 2 servers, 1 gate and an inspector
    Then the inspector shows 2 servers, 1 gate and the six chat objects within 10 seconds
    And the inspector's shard view shows every shard owned by a live server within 10 seconds
