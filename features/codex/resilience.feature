@codex @allure.label.epic:Codex_storage @allure.label.story:Node_lifecycle @use.with_node_control=true
Feature: Stored files outlive the node process
  As the operator of a Codex node
  I want to stop and restart a node without losing anything
  So that maintenance never costs data

  Background:
    Given a Codex node "A" is running

  @critical
  Scenario: Files survive a restart of the node
    Given Alice has uploaded a 1 MiB file named "archive.tar" of type "application/x-tar" to node A
    When node A is restarted
    Then node A still holds the file
    And downloading it from node A gives the type "application/x-tar" and the file name "archive.tar"
    And she downloads it from node A with an identical SHA-256
    And node A kept its peer identity

  Scenario: A node stops cleanly when asked to
    When node A is stopped
    Then node A exited cleanly
