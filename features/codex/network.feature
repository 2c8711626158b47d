@codex @allure.label.epic:Codex_storage @allure.label.story:Codex_networks
Feature: Files travel between Codex nodes
  As a Codex user
  I want to fetch from any node a file that was uploaded to another
  So that my data stays available across the network

  Nodes find each other through the bootstrap records they are started with: each node of a
  network bootstraps from the nodes started before it, unless a table says otherwise.

  @critical
  Scenario: Upload on one node, download from another
    Given a Codex network of 2 nodes
    When Alice uploads a 10 MiB file named "survey.csv" of type "text/csv" to node A
    Then Bob downloads it from node B through the network stream with an identical SHA-256
    And downloading it from node B gives the type "text/csv" and the file name "survey.csv"
    And node B lists the file

  @critical @use.with_node_control=true
  Scenario: A node that fetched a file keeps serving it when the uploader is gone
    Given a Codex network of 2 nodes
    And Alice has uploaded a 6 MiB file to node A
    And Bob has downloaded it from node B through the network stream
    When node A is stopped
    Then Bob downloads it from node B with an identical SHA-256
    And node B holds every block of the file within 1 second

  @use.with_node_control=true
  Scenario: The third node of a chain fetches from the second when the first is gone
    Given a Codex network of these nodes:
      | node | bootstraps from |
      | A    |                 |
      | B    | A               |
      | C    | B               |
    And the nodes have found each other within 10 seconds
    And Alice has uploaded a 5 MiB file to node A
    And Bob has downloaded it from node B through the network stream
    When node A is stopped
    Then Carol downloads it from node C through the network stream with an identical SHA-256

  @use.with_node_control=true
  Scenario: A download started in the background completes on its own
    Given a Codex network of 2 nodes
    And Alice has uploaded a 4 MiB file named "backup.tar" to node A
    When Bob asks node B to fetch the file from the network in the background
    Then the answer describes the file with the name "backup.tar" and 4194304 bytes
    And node B holds the file
    And node B holds every block of the file within 20 seconds
    When node A is stopped
    Then Bob downloads it from node B with an identical SHA-256

  Scenario: Asking for a manifest fetches nothing else
    Given a Codex network of 2 nodes
    And Alice has uploaded a 1 MiB file named "preview.mp4" of type "video/mp4" to node A
    When Bob asks node B for the manifest of the file
    Then the answer describes the file with the name "preview.mp4" and 1048576 bytes
    And node B lists the file
    And node B holds the file
    And node B holds none of the blocks of the file

  Scenario: Ten people share files across three nodes at the same time
    Given a Codex network of 3 nodes
    When 10 people each upload a different 2 MiB file to the nodes at the same time
    Then each file downloads from another node with an identical SHA-256

  Scenario: A large file crosses the network
    Given a Codex network of 2 nodes
    When Alice uploads a 300 MiB file to node A
    Then Bob downloads it from node B through the network stream with an identical SHA-256
